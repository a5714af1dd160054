# pip install yandexcloud; start a dev server (`make run` listens on 127.0.0.1:50051), then run.
import os

import grpc
from yandex.cloud.kms.v1 import symmetric_crypto_service_pb2 as c
from yandex.cloud.kms.v1 import symmetric_crypto_service_pb2_grpc as c_grpc
from yandex.cloud.kms.v1 import symmetric_key_pb2 as k
from yandex.cloud.kms.v1 import symmetric_key_service_pb2 as ks
from yandex.cloud.kms.v1 import symmetric_key_service_pb2_grpc as ks_grpc

channel = grpc.insecure_channel(os.environ.get("HSMKMS_ENDPOINT", "127.0.0.1:50051"))
keys, crypto = ks_grpc.SymmetricKeyServiceStub(channel), c_grpc.SymmetricCryptoServiceStub(channel)


def create_key(name: str) -> k.SymmetricKey:
    req = ks.CreateSymmetricKeyRequest(folder_id="demo", name=name, default_algorithm=k.AES_256)
    key = k.SymmetricKey()
    keys.Create(req).response.Unpack(key)  # Create/Rotate return operations that are done
    return key


key, other, aad = create_key("payments"), create_key("archive"), b"tenant=42"
enc = crypto.Encrypt(c.SymmetricEncryptRequest(key_id=key.id, plaintext=b"secret", aad_context=aad))
req = c.SymmetricDecryptRequest(key_id=key.id, ciphertext=enc.ciphertext, aad_context=aad)
print("decrypted:", crypto.Decrypt(req).plaintext, "version", enc.version_id)

keys.Rotate(ks.RotateSymmetricKeyRequest(key_id=key.id))  # old ciphertexts still decrypt
req = c.SymmetricReEncryptRequest(key_id=other.id, source_key_id=key.id, ciphertext=enc.ciphertext)
req.aad_context = req.source_aad_context = aad
moved = crypto.ReEncrypt(req)
print("moved from", moved.source_key_id, moved.source_version_id, "to", moved.key_id)

# Envelope encryption: use the plaintext data key locally, store only its ciphertext.
dk = crypto.GenerateDataKey(c.GenerateDataKeyRequest(key_id=key.id, data_key_spec=k.AES_256))
req = c.SymmetricDecryptRequest(key_id=key.id, ciphertext=dk.data_key_ciphertext)
assert crypto.Decrypt(req).plaintext == dk.data_key_plaintext
print("data key:", len(dk.data_key_plaintext), "bytes, version", dk.version_id)

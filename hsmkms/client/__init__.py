"""The `hsmkms kms` client commands: gRPC calls to a server, nothing of the server side."""

"""gRPC adapters: validate, convert, call the service layer, convert back."""

"""Protobuf messages of BR metadata (generated from the `.proto` files here by `make proto`)."""

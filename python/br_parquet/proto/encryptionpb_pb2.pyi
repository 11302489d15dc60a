from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class EncryptionMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[EncryptionMethod]
    PLAINTEXT: _ClassVar[EncryptionMethod]
    AES128_CTR: _ClassVar[EncryptionMethod]
    AES192_CTR: _ClassVar[EncryptionMethod]
    AES256_CTR: _ClassVar[EncryptionMethod]
    SM4_CTR: _ClassVar[EncryptionMethod]
UNKNOWN: EncryptionMethod
PLAINTEXT: EncryptionMethod
AES128_CTR: EncryptionMethod
AES192_CTR: EncryptionMethod
AES256_CTR: EncryptionMethod
SM4_CTR: EncryptionMethod

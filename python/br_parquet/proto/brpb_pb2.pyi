from . import encryptionpb_pb2 as _encryptionpb_pb2
from . import kvrpcpb_pb2 as _kvrpcpb_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompressionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[CompressionType]
    LZ4: _ClassVar[CompressionType]
    SNAPPY: _ClassVar[CompressionType]
    ZSTD: _ClassVar[CompressionType]

class BackupMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCAN: _ClassVar[BackupMode]
    FILE: _ClassVar[BackupMode]
UNKNOWN: CompressionType
LZ4: CompressionType
SNAPPY: CompressionType
ZSTD: CompressionType
SCAN: BackupMode
FILE: BackupMode

class BackupMeta(_message.Message):
    __slots__ = ("cluster_id", "cluster_version", "files", "start_version", "end_version", "schemas", "is_raw_kv", "raw_ranges", "ddls", "br_version", "version", "file_index", "schema_index", "raw_range_index", "ddl_indexes", "backup_result", "api_version", "policies", "new_collations_enabled", "is_txn_kv", "mode", "ranges", "backup_size", "backup_schema_version")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    START_VERSION_FIELD_NUMBER: _ClassVar[int]
    END_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    IS_RAW_KV_FIELD_NUMBER: _ClassVar[int]
    RAW_RANGES_FIELD_NUMBER: _ClassVar[int]
    DDLS_FIELD_NUMBER: _ClassVar[int]
    BR_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_INDEX_FIELD_NUMBER: _ClassVar[int]
    RAW_RANGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    DDL_INDEXES_FIELD_NUMBER: _ClassVar[int]
    BACKUP_RESULT_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    NEW_COLLATIONS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    IS_TXN_KV_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    BACKUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    BACKUP_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    cluster_id: int
    cluster_version: str
    files: _containers.RepeatedCompositeFieldContainer[File]
    start_version: int
    end_version: int
    schemas: _containers.RepeatedCompositeFieldContainer[Schema]
    is_raw_kv: bool
    raw_ranges: _containers.RepeatedCompositeFieldContainer[RawRange]
    ddls: bytes
    br_version: str
    version: int
    file_index: MetaFile
    schema_index: MetaFile
    raw_range_index: MetaFile
    ddl_indexes: MetaFile
    backup_result: str
    api_version: _kvrpcpb_pb2.APIVersion
    policies: _containers.RepeatedCompositeFieldContainer[PlacementPolicy]
    new_collations_enabled: str
    is_txn_kv: bool
    mode: BackupMode
    ranges: _containers.RepeatedCompositeFieldContainer[BackupRange]
    backup_size: int
    backup_schema_version: int
    def __init__(self, cluster_id: _Optional[int] = ..., cluster_version: _Optional[str] = ..., files: _Optional[_Iterable[_Union[File, _Mapping]]] = ..., start_version: _Optional[int] = ..., end_version: _Optional[int] = ..., schemas: _Optional[_Iterable[_Union[Schema, _Mapping]]] = ..., is_raw_kv: _Optional[bool] = ..., raw_ranges: _Optional[_Iterable[_Union[RawRange, _Mapping]]] = ..., ddls: _Optional[bytes] = ..., br_version: _Optional[str] = ..., version: _Optional[int] = ..., file_index: _Optional[_Union[MetaFile, _Mapping]] = ..., schema_index: _Optional[_Union[MetaFile, _Mapping]] = ..., raw_range_index: _Optional[_Union[MetaFile, _Mapping]] = ..., ddl_indexes: _Optional[_Union[MetaFile, _Mapping]] = ..., backup_result: _Optional[str] = ..., api_version: _Optional[_Union[_kvrpcpb_pb2.APIVersion, str]] = ..., policies: _Optional[_Iterable[_Union[PlacementPolicy, _Mapping]]] = ..., new_collations_enabled: _Optional[str] = ..., is_txn_kv: _Optional[bool] = ..., mode: _Optional[_Union[BackupMode, str]] = ..., ranges: _Optional[_Iterable[_Union[BackupRange, _Mapping]]] = ..., backup_size: _Optional[int] = ..., backup_schema_version: _Optional[int] = ...) -> None: ...

class File(_message.Message):
    __slots__ = ("name", "sha256", "start_key", "end_key", "start_version", "end_version", "crc64xor", "total_kvs", "total_bytes", "cf", "size", "cipher_iv", "table_metas")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    START_VERSION_FIELD_NUMBER: _ClassVar[int]
    END_VERSION_FIELD_NUMBER: _ClassVar[int]
    CRC64XOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_KVS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    CF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CIPHER_IV_FIELD_NUMBER: _ClassVar[int]
    TABLE_METAS_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: bytes
    start_key: bytes
    end_key: bytes
    start_version: int
    end_version: int
    crc64xor: int
    total_kvs: int
    total_bytes: int
    cf: str
    size: int
    cipher_iv: bytes
    table_metas: _containers.RepeatedCompositeFieldContainer[TableMeta]
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[bytes] = ..., start_key: _Optional[bytes] = ..., end_key: _Optional[bytes] = ..., start_version: _Optional[int] = ..., end_version: _Optional[int] = ..., crc64xor: _Optional[int] = ..., total_kvs: _Optional[int] = ..., total_bytes: _Optional[int] = ..., cf: _Optional[str] = ..., size: _Optional[int] = ..., cipher_iv: _Optional[bytes] = ..., table_metas: _Optional[_Iterable[_Union[TableMeta, _Mapping]]] = ...) -> None: ...

class TableMeta(_message.Message):
    __slots__ = ("physical_id", "crc64xor", "total_kvs", "total_bytes")
    PHYSICAL_ID_FIELD_NUMBER: _ClassVar[int]
    CRC64XOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_KVS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    physical_id: int
    crc64xor: int
    total_kvs: int
    total_bytes: int
    def __init__(self, physical_id: _Optional[int] = ..., crc64xor: _Optional[int] = ..., total_kvs: _Optional[int] = ..., total_bytes: _Optional[int] = ...) -> None: ...

class MetaFile(_message.Message):
    __slots__ = ("meta_files", "data_files", "schemas", "raw_ranges", "ddls", "backup_ranges")
    META_FILES_FIELD_NUMBER: _ClassVar[int]
    DATA_FILES_FIELD_NUMBER: _ClassVar[int]
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    RAW_RANGES_FIELD_NUMBER: _ClassVar[int]
    DDLS_FIELD_NUMBER: _ClassVar[int]
    BACKUP_RANGES_FIELD_NUMBER: _ClassVar[int]
    meta_files: _containers.RepeatedCompositeFieldContainer[File]
    data_files: _containers.RepeatedCompositeFieldContainer[File]
    schemas: _containers.RepeatedCompositeFieldContainer[Schema]
    raw_ranges: _containers.RepeatedCompositeFieldContainer[RawRange]
    ddls: _containers.RepeatedScalarFieldContainer[bytes]
    backup_ranges: _containers.RepeatedCompositeFieldContainer[BackupRange]
    def __init__(self, meta_files: _Optional[_Iterable[_Union[File, _Mapping]]] = ..., data_files: _Optional[_Iterable[_Union[File, _Mapping]]] = ..., schemas: _Optional[_Iterable[_Union[Schema, _Mapping]]] = ..., raw_ranges: _Optional[_Iterable[_Union[RawRange, _Mapping]]] = ..., ddls: _Optional[_Iterable[bytes]] = ..., backup_ranges: _Optional[_Iterable[_Union[BackupRange, _Mapping]]] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("db", "table", "crc64xor", "total_kvs", "total_bytes", "tiflash_replicas", "stats", "stats_index", "is_merge_option_allowed", "partition_merge_option_allowed")
    class PartitionMergeOptionAllowedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    DB_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    CRC64XOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_KVS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIFLASH_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    STATS_INDEX_FIELD_NUMBER: _ClassVar[int]
    IS_MERGE_OPTION_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    PARTITION_MERGE_OPTION_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    db: bytes
    table: bytes
    crc64xor: int
    total_kvs: int
    total_bytes: int
    tiflash_replicas: int
    stats: bytes
    stats_index: _containers.RepeatedCompositeFieldContainer[StatsFileIndex]
    is_merge_option_allowed: bool
    partition_merge_option_allowed: _containers.ScalarMap[str, bool]
    def __init__(self, db: _Optional[bytes] = ..., table: _Optional[bytes] = ..., crc64xor: _Optional[int] = ..., total_kvs: _Optional[int] = ..., total_bytes: _Optional[int] = ..., tiflash_replicas: _Optional[int] = ..., stats: _Optional[bytes] = ..., stats_index: _Optional[_Iterable[_Union[StatsFileIndex, _Mapping]]] = ..., is_merge_option_allowed: _Optional[bool] = ..., partition_merge_option_allowed: _Optional[_Mapping[str, bool]] = ...) -> None: ...

class StatsFileIndex(_message.Message):
    __slots__ = ("name", "sha256", "size_enc", "size_ori", "cipher_iv", "inline_data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_ENC_FIELD_NUMBER: _ClassVar[int]
    SIZE_ORI_FIELD_NUMBER: _ClassVar[int]
    CIPHER_IV_FIELD_NUMBER: _ClassVar[int]
    INLINE_DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: bytes
    size_enc: int
    size_ori: int
    cipher_iv: bytes
    inline_data: bytes
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[bytes] = ..., size_enc: _Optional[int] = ..., size_ori: _Optional[int] = ..., cipher_iv: _Optional[bytes] = ..., inline_data: _Optional[bytes] = ...) -> None: ...

class RawRange(_message.Message):
    __slots__ = ("start_key", "end_key", "cf")
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    CF_FIELD_NUMBER: _ClassVar[int]
    start_key: bytes
    end_key: bytes
    cf: str
    def __init__(self, start_key: _Optional[bytes] = ..., end_key: _Optional[bytes] = ..., cf: _Optional[str] = ...) -> None: ...

class BackupRange(_message.Message):
    __slots__ = ("start_key", "end_key", "files")
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    start_key: bytes
    end_key: bytes
    files: _containers.RepeatedCompositeFieldContainer[File]
    def __init__(self, start_key: _Optional[bytes] = ..., end_key: _Optional[bytes] = ..., files: _Optional[_Iterable[_Union[File, _Mapping]]] = ...) -> None: ...

class PlacementPolicy(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: bytes
    def __init__(self, info: _Optional[bytes] = ...) -> None: ...

class CipherInfo(_message.Message):
    __slots__ = ("cipher_type", "cipher_key")
    CIPHER_TYPE_FIELD_NUMBER: _ClassVar[int]
    CIPHER_KEY_FIELD_NUMBER: _ClassVar[int]
    cipher_type: _encryptionpb_pb2.EncryptionMethod
    cipher_key: bytes
    def __init__(self, cipher_type: _Optional[_Union[_encryptionpb_pb2.EncryptionMethod, str]] = ..., cipher_key: _Optional[bytes] = ...) -> None: ...

class StorageBackend(_message.Message):
    __slots__ = ("noop", "local", "s3", "gcs", "cloud_dynamic", "hdfs", "azure_blob_storage")
    NOOP_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    S3_FIELD_NUMBER: _ClassVar[int]
    GCS_FIELD_NUMBER: _ClassVar[int]
    CLOUD_DYNAMIC_FIELD_NUMBER: _ClassVar[int]
    HDFS_FIELD_NUMBER: _ClassVar[int]
    AZURE_BLOB_STORAGE_FIELD_NUMBER: _ClassVar[int]
    noop: Noop
    local: Local
    s3: S3
    gcs: GCS
    cloud_dynamic: CloudDynamic
    hdfs: HDFS
    azure_blob_storage: AzureBlobStorage
    def __init__(self, noop: _Optional[_Union[Noop, _Mapping]] = ..., local: _Optional[_Union[Local, _Mapping]] = ..., s3: _Optional[_Union[S3, _Mapping]] = ..., gcs: _Optional[_Union[GCS, _Mapping]] = ..., cloud_dynamic: _Optional[_Union[CloudDynamic, _Mapping]] = ..., hdfs: _Optional[_Union[HDFS, _Mapping]] = ..., azure_blob_storage: _Optional[_Union[AzureBlobStorage, _Mapping]] = ...) -> None: ...

class Noop(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Local(_message.Message):
    __slots__ = ("path",)
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class S3(_message.Message):
    __slots__ = ("endpoint", "region", "bucket", "prefix", "storage_class", "sse", "acl", "access_key", "secret_access_key", "force_path_style", "sse_kms_key_id", "role_arn", "external_id", "object_lock_enabled", "session_token", "provider", "profile")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CLASS_FIELD_NUMBER: _ClassVar[int]
    SSE_FIELD_NUMBER: _ClassVar[int]
    ACL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    FORCE_PATH_STYLE_FIELD_NUMBER: _ClassVar[int]
    SSE_KMS_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_LOCK_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    region: str
    bucket: str
    prefix: str
    storage_class: str
    sse: str
    acl: str
    access_key: str
    secret_access_key: str
    force_path_style: bool
    sse_kms_key_id: str
    role_arn: str
    external_id: str
    object_lock_enabled: bool
    session_token: str
    provider: str
    profile: str
    def __init__(self, endpoint: _Optional[str] = ..., region: _Optional[str] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., storage_class: _Optional[str] = ..., sse: _Optional[str] = ..., acl: _Optional[str] = ..., access_key: _Optional[str] = ..., secret_access_key: _Optional[str] = ..., force_path_style: _Optional[bool] = ..., sse_kms_key_id: _Optional[str] = ..., role_arn: _Optional[str] = ..., external_id: _Optional[str] = ..., object_lock_enabled: _Optional[bool] = ..., session_token: _Optional[str] = ..., provider: _Optional[str] = ..., profile: _Optional[str] = ...) -> None: ...

class GCS(_message.Message):
    __slots__ = ("endpoint", "bucket", "prefix", "storage_class", "predefined_acl", "credentials_blob")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CLASS_FIELD_NUMBER: _ClassVar[int]
    PREDEFINED_ACL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_BLOB_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    bucket: str
    prefix: str
    storage_class: str
    predefined_acl: str
    credentials_blob: str
    def __init__(self, endpoint: _Optional[str] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., storage_class: _Optional[str] = ..., predefined_acl: _Optional[str] = ..., credentials_blob: _Optional[str] = ...) -> None: ...

class AzureCustomerKey(_message.Message):
    __slots__ = ("encryption_key", "encryption_key_sha256")
    ENCRYPTION_KEY_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_KEY_SHA256_FIELD_NUMBER: _ClassVar[int]
    encryption_key: str
    encryption_key_sha256: str
    def __init__(self, encryption_key: _Optional[str] = ..., encryption_key_sha256: _Optional[str] = ...) -> None: ...

class AzureBlobStorage(_message.Message):
    __slots__ = ("endpoint", "bucket", "prefix", "storage_class", "account_name", "shared_key", "access_sig", "encryption_scope", "encryption_key")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CLASS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    SHARED_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCESS_SIG_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_SCOPE_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_KEY_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    bucket: str
    prefix: str
    storage_class: str
    account_name: str
    shared_key: str
    access_sig: str
    encryption_scope: str
    encryption_key: AzureCustomerKey
    def __init__(self, endpoint: _Optional[str] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., storage_class: _Optional[str] = ..., account_name: _Optional[str] = ..., shared_key: _Optional[str] = ..., access_sig: _Optional[str] = ..., encryption_scope: _Optional[str] = ..., encryption_key: _Optional[_Union[AzureCustomerKey, _Mapping]] = ...) -> None: ...

class Bucket(_message.Message):
    __slots__ = ("endpoint", "region", "bucket", "prefix", "storage_class")
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    STORAGE_CLASS_FIELD_NUMBER: _ClassVar[int]
    endpoint: str
    region: str
    bucket: str
    prefix: str
    storage_class: str
    def __init__(self, endpoint: _Optional[str] = ..., region: _Optional[str] = ..., bucket: _Optional[str] = ..., prefix: _Optional[str] = ..., storage_class: _Optional[str] = ...) -> None: ...

class CloudDynamic(_message.Message):
    __slots__ = ("bucket", "provider_name", "attrs")
    class AttrsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_NAME_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    bucket: Bucket
    provider_name: str
    attrs: _containers.ScalarMap[str, str]
    def __init__(self, bucket: _Optional[_Union[Bucket, _Mapping]] = ..., provider_name: _Optional[str] = ..., attrs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class HDFS(_message.Message):
    __slots__ = ("remote",)
    REMOTE_FIELD_NUMBER: _ClassVar[int]
    remote: str
    def __init__(self, remote: _Optional[str] = ...) -> None: ...

// A C ABI over rocksdb::SstFileReader, which RocksDB's own C API lacks.
// Keys and values are handed out as borrowed slices: the caller copies nothing
// and must not use a slice after the next call on the same iterator.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/table_properties.h"

using ROCKSDB_NAMESPACE::Iterator;
using ROCKSDB_NAMESPACE::Options;
using ROCKSDB_NAMESPACE::ReadOptions;
using ROCKSDB_NAMESPACE::Slice;
using ROCKSDB_NAMESPACE::SstFileReader;
using ROCKSDB_NAMESPACE::Status;

struct brpq_sst_reader {
  Options options;
  std::unique_ptr<SstFileReader> reader;
};

struct brpq_sst_iter {
  std::unique_ptr<Iterator> iter;
};

// Errors are returned as malloc'ed C strings; the Rust side frees them.
static char* status_message(const Status& s) {
  std::string msg = s.ToString();
  char* out = static_cast<char*>(std::malloc(msg.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, msg.data(), msg.size());
    out[msg.size()] = '\0';
  }
  return out;
}

extern "C" {

void brpq_free_error(char* err) { std::free(err); }

brpq_sst_reader* brpq_sst_open(const char* path, size_t path_len, char** err) {
  *err = nullptr;
  auto* r = new (std::nothrow) brpq_sst_reader();
  if (r == nullptr) {
    *err = status_message(Status::MemoryLimit("allocating SST reader"));
    return nullptr;
  }
  // SST readers of a backup are opened once and scanned once: no block cache
  // sharing is needed, and checksums of every block are always verified.
  r->options.paranoid_checks = true;
  r->reader.reset(new SstFileReader(r->options));
  Status s = r->reader->Open(std::string(path, path_len));
  if (!s.ok()) {
    *err = status_message(s);
    delete r;
    return nullptr;
  }
  return r;
}

void brpq_sst_close(brpq_sst_reader* r) { delete r; }

char* brpq_sst_verify_checksum(brpq_sst_reader* r) {
  Status s = r->reader->VerifyChecksum();
  return s.ok() ? nullptr : status_message(s);
}

uint64_t brpq_sst_num_entries(brpq_sst_reader* r) {
  auto props = r->reader->GetTableProperties();
  return props ? props->num_entries : 0;
}

// Table properties as (u32 LE length, bytes) pairs of name and value: the
// standard ones under their RocksDB property names, then the user-collected
// ones (TiKV's binary `tikv.*` properties among them). Buffer is malloc'ed.
char* brpq_sst_properties(brpq_sst_reader* r, size_t* len) {
  auto props = r->reader->GetTableProperties();
  std::string out;
  auto put_part = [&out](const std::string& s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out.append(s);
  };
  auto put = [&put_part](const std::string& k, const std::string& v) {
    put_part(k);
    put_part(v);
  };
  if (props) {
    put("rocksdb.num.entries", std::to_string(props->num_entries));
    put("rocksdb.num.data.blocks", std::to_string(props->num_data_blocks));
    put("rocksdb.raw.key.size", std::to_string(props->raw_key_size));
    put("rocksdb.raw.value.size", std::to_string(props->raw_value_size));
    put("rocksdb.data.size", std::to_string(props->data_size));
    put("rocksdb.index.size", std::to_string(props->index_size));
    put("rocksdb.filter.size", std::to_string(props->filter_size));
    put("rocksdb.format.version", std::to_string(props->format_version));
    put("rocksdb.compression", props->compression_name);
    put("rocksdb.comparator", props->comparator_name);
    put("rocksdb.filter.policy", props->filter_policy_name);
    put("rocksdb.column.family.name", props->column_family_name);
    put("rocksdb.creating.db.identity", props->db_id);
    for (const auto& kv : props->user_collected_properties) {
      put(kv.first, kv.second);
    }
  }
  *len = out.size();
  char* buf = static_cast<char*>(std::malloc(out.size() + 1));
  if (buf != nullptr) {
    std::memcpy(buf, out.data(), out.size());
  } else {
    *len = 0;
  }
  return buf;
}

brpq_sst_iter* brpq_sst_iter_new(brpq_sst_reader* r, size_t readahead) {
  ReadOptions ro;
  ro.verify_checksums = true;
  ro.fill_cache = false;
  ro.readahead_size = readahead;
  auto* it = new (std::nothrow) brpq_sst_iter();
  if (it == nullptr) return nullptr;
  it->iter.reset(r->reader->NewIterator(ro));
  return it;
}

void brpq_sst_iter_free(brpq_sst_iter* it) { delete it; }
void brpq_sst_iter_seek_to_first(brpq_sst_iter* it) { it->iter->SeekToFirst(); }
void brpq_sst_iter_seek(brpq_sst_iter* it, const char* key, size_t len) {
  it->iter->Seek(Slice(key, len));
}
void brpq_sst_iter_next(brpq_sst_iter* it) { it->iter->Next(); }
unsigned char brpq_sst_iter_valid(const brpq_sst_iter* it) {
  return it->iter->Valid() ? 1 : 0;
}

// One call per entry instead of three: position, key and value together.
unsigned char brpq_sst_iter_entry(const brpq_sst_iter* it, const char** key,
                                  size_t* key_len, const char** value,
                                  size_t* value_len) {
  if (!it->iter->Valid()) return 0;
  Slice k = it->iter->key();
  Slice v = it->iter->value();
  *key = k.data();
  *key_len = k.size();
  *value = v.data();
  *value_len = v.size();
  return 1;
}

char* brpq_sst_iter_status(const brpq_sst_iter* it) {
  Status s = it->iter->status();
  return s.ok() ? nullptr : status_message(s);
}

}  // extern "C"

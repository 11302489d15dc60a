//! Compiles the C++ shim over `rocksdb::SstFileReader` against the RocksDB
//! that `librocksdb-sys` bundles and links, so both see the same headers.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=cpp/sst_reader.cc");
    if env::var_os("CARGO_FEATURE_SST").is_none() {
        return;
    }
    let rocksdb_dir = PathBuf::from(
        env::var("DEP_ROCKSDB_CARGO_MANIFEST_DIR")
            .expect("librocksdb-sys exports its manifest dir to dependents"),
    )
    .join("rocksdb");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("cpp/sst_reader.cc")
        .include(rocksdb_dir.join("include"))
        .include(&rocksdb_dir)
        .flag("-std=c++20")
        .define("NDEBUG", Some("1"))
        .define("ROCKSDB_PLATFORM_POSIX", None)
        .define("ROCKSDB_LIB_IO_POSIX", None)
        .warnings(true);
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        build.define("OS_LINUX", None);
    }
    build.compile("brpq_sst_shim");
}

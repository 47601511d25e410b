//! Fixes the build identity (`BUILD_SHA`, `APP_VERSION`) into the binary at compile time,
//! exactly as paktech-app's build script does (`paktech_build_info::emit`).

fn main() {
    paktech_build_info::emit();
}

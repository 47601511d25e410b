//! Fixes the build identity (`BUILD_SHA`, `APP_VERSION`) into the binary at compile time,
//! so that one image reports exactly which commit it was built from in every environment.

fn main() {
    paktech_build_info::emit();
}

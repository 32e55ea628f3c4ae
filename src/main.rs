fn main() {
    std::process::exit(stflash::cli::main() as i32);
}

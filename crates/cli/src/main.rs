fn main() {
    std::process::exit(stflash_cli::main() as i32);
}

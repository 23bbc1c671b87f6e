fn main() -> std::process::ExitCode {
    vrrp_ha::cli::main()
}

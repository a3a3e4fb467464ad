//! Prints the I/O backend `io = auto` picks on this machine (`uring` or `std`). The Makefile
//! uses it to decide whether the io_uring test pass can run here.

fn main() {
    match eoslog::io::backend_for(eoslog::io::IoChoice::Auto, Default::default()) {
        Ok(backend) => println!("{}", backend.kind()),
        Err(e) => {
            eprintln!("cannot initialise any I/O backend: {e}");
            std::process::exit(1);
        }
    }
}

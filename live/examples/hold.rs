//! Builds one datapath between two hosts and keeps it until Enter is pressed, printing the
//! pods' namespaces and addresses: for poking at a datapath with the kernel's own tools
//! (`ip netns exec NS …`, tcpdump, iperf3). Run as root:
//! `cargo run -p orchsim-live --example hold -- flannel-vxlan`.

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "flannel-vxlan".into());
    let d: orchsim_net::Datapath = match name.parse() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let net = match orchsim_live::datapath::build(d, Default::default()) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for p in &net.pods {
        println!("{} ns={} ip={} reach={}", p.name, p.ns, p.ip, p.reach);
    }
    println!("press Enter to remove everything");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    if let Err(e) = net.teardown() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

//! Client errors that need no cluster.

use brisk_client::Client;

#[test]
fn local_clusters_need_main_if_worker() {
    let err = Client::local(2).err().expect("must refuse");
    let text = err.to_string();
    assert!(text.contains("main_if_worker"), "{text}");
}

#[test]
fn bad_and_unreachable_addresses_are_clear() {
    let err = Client::connect("udp://127.0.0.1:1")
        .err()
        .expect("bad scheme");
    assert!(err.to_string().contains("tcp:// or tls://"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::connect(&format!("tcp://127.0.0.1:{port}"))
        .err()
        .expect("nobody listens");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

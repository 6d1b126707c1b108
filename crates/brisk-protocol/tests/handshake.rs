//! Handshakes over real sockets: versions, tokens, roles and garbage.
#![allow(clippy::unwrap_used)]

use brisk_protocol::conn::{Listener, connect};
use brisk_protocol::messages::Role;
use brisk_protocol::{Address, ProtocolError, Security};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn tokens_and_roles_are_checked_and_messages_flow() {
    rt().block_on(async {
        let sec = Security::none().with_token(Some("t0k".into()));
        let l = Listener::bind("127.0.0.1", 0, &sec).await.unwrap();
        let addr = l.address().clone();
        let server = tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..4 {
                let p = l.accept().await.unwrap();
                match p.handshake("test", &[Role::Client]).await {
                    Ok(mut c) => {
                        let v: Vec<String> = c.reader.recv_msg().await.unwrap();
                        c.writer.send_msg(&v).await.unwrap();
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(e.to_string())),
                }
            }
            results
        });
        let good = Security::none().with_token(Some("t0k".into()));
        let mut c = connect(&addr, &good, Role::Client, "c").await.unwrap();
        c.writer.send_msg(&vec!["hello".to_string()]).await.unwrap();
        let back: Vec<String> = c.reader.recv_msg().await.unwrap();
        assert_eq!(back, vec!["hello".to_string()]);
        let e = connect(
            &addr,
            &Security::none().with_token(Some("bad".into())),
            Role::Client,
            "c",
        )
        .await
        .err()
        .unwrap();
        assert!(
            matches!(&e, ProtocolError::Rejected { reason, .. } if reason == "wrong token"),
            "{e}"
        );
        let e = connect(&addr, &good, Role::Worker, "w")
            .await
            .err()
            .unwrap();
        assert!(e.to_string().contains("not accepted here"), "{e}");
        // Garbage: the server rejects it and goes on.
        let mut raw = tokio::net::TcpStream::connect(addr.host_port())
            .await
            .unwrap();
        raw.write_all(b"\x00\x01\x02\x03garbage").await.unwrap();
        let mut buf = Vec::new();
        let _ = raw.read_to_end(&mut buf).await;
        let results = server.await.unwrap();
        assert!(results[0].is_ok());
        assert!(
            results[3]
                .as_ref()
                .unwrap_err()
                .contains("not a Brisk endpoint"),
            "{results:?}"
        );
    });
}

#[test]
fn version_mismatch_is_named_on_the_connecting_side() {
    rt().block_on(async {
        // A fake server speaking protocol version 99.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut p = [0u8; 8];
            let _ = s.read_exact(&mut p).await;
            let mut out = b"BRSK".to_vec();
            out.extend_from_slice(&99u32.to_le_bytes());
            let _ = s.write_all(&out).await;
        });
        let addr = Address::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let e = connect(&addr, &Security::none(), Role::Client, "c")
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                e,
                ProtocolError::VersionMismatch {
                    ours: 1,
                    theirs: 99,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("version 99"), "{e}");
    });
}

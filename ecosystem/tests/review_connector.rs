//! `goro::compat::hyper::Connector`'s errors name the address as it is
//! written: an IPv6 literal in brackets (`[::1]:8080`, as Go's `dial tcp
//! [::1]:8080: ...` and `SocketAddr`'s `Display` write it), not `::1:8080`,
//! which reads as a bare IPv6 address.

use goro::compat::hyper::Connector;
use std::time::Duration;
use tower_service::Service;

#[test]
fn a_failed_ipv6_connect_names_the_address_in_brackets() {
    // A port on ::1 that nobody listens on (if ::1 is unavailable, the
    // connect fails otherwise, and the error still names the address).
    let port = match std::net::TcpListener::bind("[::1]:0") {
        Ok(closed) => closed.local_addr().unwrap().port(),
        Err(_) => 9,
    };
    let uri: hyper::Uri = format!("http://[::1]:{port}/").parse().unwrap();
    let mut connector = Connector::new().connect_timeout(Some(Duration::from_secs(10)));
    let err = goro::block_on(connector.call(uri)).expect_err("nobody listens there");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("connect to [::1]:{port}: ")),
        "{msg}"
    );
}

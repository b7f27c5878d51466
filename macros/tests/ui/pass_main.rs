#[goro::main]
async fn main() -> std::io::Result<()> {
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let client = goro::spawn(async move { goro::net::TcpStream::connect(addr).await });
    let (_server, peer) = listener.accept().await?;
    assert_eq!(peer, client.await??.local_addr()?);
    Ok(())
}

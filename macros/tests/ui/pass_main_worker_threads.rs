#[goro::main(worker_threads = 2)]
async fn main() {
    let workers = goro::runtime::Handle::current().metrics().workers.len();
    assert_eq!(workers, 2);
}

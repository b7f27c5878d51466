#[goro::test]
fn not_async() {}

#[goro::test(threads = 2)]
async fn unknown_argument() {}

#[goro::test(worker_threads = "four")]
async fn not_an_integer() {}

#[goro::test(worker_threads = 2, worker_threads = 3)]
async fn given_twice() {}

#[goro::test(4)]
async fn not_name_value() {}

#[goro::test]
async fn takes_parameters(n: u32) {
    let _ = n;
}

#[goro::test]
async fn generic<T>() {}

#[goro::test]
#[test]
async fn second_test_attribute() {}

fn main() {}

//! `JoinError` is `Send + Sync + Error`, so `handle.await??` converts into
//! the usual error containers.

use std::error::Error;

type BoxError = Box<dyn Error + Send + Sync>;

async fn boxed(fail: bool) -> Result<u32, BoxError> {
    let v = goro::spawn(async move {
        if fail {
            panic!("worker failed");
        }
        "7".parse::<u32>()
    })
    .await??;
    Ok(v)
}

async fn with_anyhow(fail: bool) -> anyhow::Result<u32> {
    let v = goro::spawn(async move {
        if fail {
            panic!("anyhow worker failed");
        }
        Ok::<_, std::io::Error>(9)
    })
    .await??;
    Ok(v)
}

async fn with_io(cancel: bool) -> std::io::Result<u32> {
    let h = goro::spawn(async {
        goro::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok::<_, std::io::Error>(1)
    });
    if cancel {
        h.abort();
    }
    let v = h.await??;
    Ok(v)
}

#[test]
fn question_mark_into_box_dyn_error() {
    assert_eq!(goro::block_on(boxed(false)).unwrap(), 7);
    let err = goro::block_on(boxed(true)).unwrap_err();
    let join = err.downcast_ref::<goro::task::JoinError>().unwrap();
    assert!(join.is_panic());
    assert_eq!(err.to_string(), "task panicked: worker failed");
}

#[test]
fn question_mark_into_anyhow() {
    assert_eq!(goro::block_on(with_anyhow(false)).unwrap(), 9);
    let err = goro::block_on(with_anyhow(true)).unwrap_err();
    assert!(
        err.downcast_ref::<goro::task::JoinError>()
            .unwrap()
            .is_panic()
    );
}

#[test]
fn question_mark_into_io_error() {
    let err = goro::block_on(with_io(true)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Other);
    let join = err
        .into_inner()
        .unwrap()
        .downcast::<goro::task::JoinError>()
        .unwrap();
    assert!(join.is_cancelled());
}

#[test]
fn join_error_can_be_shared_between_threads() {
    let err = goro::block_on(goro::spawn(async { panic!("shared") })).unwrap_err();
    let err = std::sync::Arc::new(err);
    let e2 = err.clone();
    let msg = std::thread::spawn(move || e2.to_string()).join().unwrap();
    assert_eq!(msg, "task panicked: shared");
    let err = std::sync::Arc::try_unwrap(err).unwrap();
    assert_eq!(err.into_panic().downcast_ref::<&str>(), Some(&"shared"));
}

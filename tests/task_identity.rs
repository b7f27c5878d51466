//! Task identity: every task has a unique `task::Id` (`task::id()` inside,
//! `JoinHandle::id()` outside), an optional name (`task::Builder`), and
//! the location of the `spawn` call that created it, whichever spawn entry
//! point was used (`#[track_caller]` all the way down).

use goro::runtime::{Handle, Runtime};
use goro::task::{Builder, Id, JoinSet, TaskInfo};
use std::collections::HashSet;
use std::future::pending;
use std::time::{Duration, Instant};

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

/// The dump entry of task `id`, waiting until it shows up.
fn info(handle: &Handle, id: Id) -> TaskInfo {
    let start = Instant::now();
    loop {
        if let Some(t) = handle.dump().tasks().iter().find(|t| t.id() == id) {
            return t.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "task {id} never listed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn ids_are_unique_and_match_inside_and_outside() {
    let rt = rt();
    let handles: Vec<_> = (0..1000)
        .map(|_| rt.spawn(async { goro::task::id() }))
        .collect();
    let mut seen = HashSet::new();
    for h in handles {
        let outside = h.id();
        let inside = rt.block_on(h).unwrap();
        assert_eq!(inside, outside);
        assert!(seen.insert(outside), "id {outside} handed out twice");
    }
    // Spawned from inside tasks on several workers too.
    let nested: Vec<Id> = rt
        .block_on(rt.spawn(async {
            let hs: Vec<_> = (0..200)
                .map(|_| goro::spawn(async { goro::task::id() }))
                .collect();
            let mut ids = Vec::new();
            for h in hs {
                ids.push(h.await.unwrap());
            }
            ids
        }))
        .unwrap();
    for id in nested {
        assert!(seen.insert(id), "id {id} handed out twice");
    }
}

#[test]
fn no_id_outside_a_task() {
    assert!(goro::task::try_id().is_none());
    let rt = rt();
    assert!(rt.block_on(async { goro::task::try_id() }).is_none());
    let blocking = rt.block_on(rt.spawn_blocking(goro::task::try_id)).unwrap();
    assert!(
        blocking.is_none(),
        "a blocking closure is not polled as a task"
    );
    let r = std::panic::catch_unwind(goro::task::id);
    assert!(r.is_err(), "task::id() outside a task panics");
}

#[test]
fn builder_names_tasks() {
    let rt = rt();
    let named = Builder::new()
        .name("conn-handler")
        .spawn_on(pending::<()>(), &rt.handle());
    let unnamed = rt.spawn(pending::<()>());
    let from_task = rt
        .block_on(rt.spawn(async {
            let inner = Builder::new().name("inner").spawn(pending::<()>());
            inner.id()
        }))
        .unwrap();
    assert_eq!(info(&rt.handle(), named.id()).name(), Some("conn-handler"));
    assert_eq!(info(&rt.handle(), unnamed.id()).name(), None);
    assert_eq!(info(&rt.handle(), from_task).name(), Some("inner"));
    assert!(format!("{:#}", rt.handle().dump()).contains("\"conn-handler\""));
}

#[test]
fn every_spawn_entry_point_records_its_caller() {
    let rt = rt();
    let h = rt.handle();
    let _enter = rt.enter();
    let mut set = JoinSet::new();
    let mut expect: Vec<(Id, u32)> = Vec::new();

    let t = goro::spawn(pending::<()>());
    expect.push((t.id(), line!() - 1));
    let t = goro::task::spawn(pending::<()>());
    expect.push((t.id(), line!() - 1));
    let t = rt.spawn(pending::<()>());
    expect.push((t.id(), line!() - 1));
    let t = h.spawn(pending::<()>());
    expect.push((t.id(), line!() - 1));
    let t = Builder::new().spawn(pending::<()>());
    expect.push((t.id(), line!() - 1));
    let t = Builder::new().name("x").spawn_on(pending::<()>(), &h);
    expect.push((t.id(), line!() - 1));
    let a = set.spawn(pending::<()>());
    expect.push((a.id(), line!() - 1));
    let a = set.spawn_on(pending::<()>(), &h);
    expect.push((a.id(), line!() - 1));

    for (id, line) in expect {
        let t = info(&h, id);
        assert!(
            t.location().file().ends_with("task_identity.rs"),
            "task {id}: {}",
            t.location()
        );
        assert_eq!(t.location().line(), line, "task {id}");
    }
}

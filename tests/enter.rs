//! `Runtime::enter` / `Handle::enter`: making a runtime current on a thread
//! from synchronous code. Each runtime names its worker threads, and a task
//! reports the name of the thread it ran on, which says which runtime ran it.

use goro::runtime::{Builder, Handle, Runtime};

/// A runtime whose worker threads are all named `name`.
fn runtime(name: &str) -> Runtime {
    Builder::new()
        .worker_threads(1)
        .thread_name(name)
        .build()
        .unwrap()
}

/// The name of the thread a task ran on.
fn name_of(h: goro::JoinHandle<Option<String>>) -> String {
    futures::executor::block_on(h)
        .unwrap()
        .unwrap_or_else(|| "<unnamed>".into())
}

/// Where `goro::spawn`, called here, runs its task.
fn where_goro_spawn_runs() -> String {
    name_of(goro::spawn(async {
        std::thread::current().name().map(str::to_owned)
    }))
}

/// Where a task spawned through `handle` runs.
fn where_handle_runs(handle: &Handle) -> String {
    name_of(handle.spawn(async { std::thread::current().name().map(str::to_owned) }))
}

#[test]
fn goro_spawn_inside_enter_runs_on_that_runtime() {
    let rt = runtime("enter-rt");
    {
        let _guard = rt.enter();
        assert_eq!(where_goro_spawn_runs(), "enter-rt");
        assert_eq!(where_handle_runs(&Handle::current()), "enter-rt");
        let blocking = goro::spawn_blocking(|| Handle::try_current().is_some());
        assert!(futures::executor::block_on(blocking).unwrap());
    }
    // Outside the guard, goro::spawn goes to the default runtime.
    assert!(where_goro_spawn_runs().starts_with("goro-worker"));
}

#[test]
fn sockets_inside_enter_register_with_that_runtime() {
    let rt = runtime("enter-sockets");
    let before = rt.metrics().descriptors;
    let listener = {
        let _guard = rt.enter();
        futures::executor::block_on(goro::net::TcpListener::bind("127.0.0.1:0")).unwrap()
    };
    assert_eq!(
        rt.metrics().descriptors,
        before + 1,
        "the socket is not on rt"
    );
    drop(listener);
    assert_eq!(rt.metrics().descriptors, before);
}

#[test]
fn nested_guards_restore_the_previous_runtime() {
    let a = runtime("nest-a");
    let b = runtime("nest-b");
    assert!(Handle::try_current().is_none());
    let ga = a.enter();
    assert_eq!(where_goro_spawn_runs(), "nest-a");
    {
        let _gb = b.handle().enter();
        assert_eq!(where_goro_spawn_runs(), "nest-b");
        {
            let _ga2 = a.enter();
            assert_eq!(where_goro_spawn_runs(), "nest-a");
        }
        assert_eq!(where_goro_spawn_runs(), "nest-b");
    }
    assert_eq!(where_goro_spawn_runs(), "nest-a");
    drop(ga);
    assert!(Handle::try_current().is_none());
}

#[test]
fn try_current_inside_and_outside_enter() {
    let rt = runtime("try-current");
    assert!(Handle::try_current().is_none());
    {
        let _g = rt.enter();
        let h = Handle::try_current().expect("current inside enter()");
        assert_eq!(where_handle_runs(&h), "try-current");
    }
    assert!(Handle::try_current().is_none());
    // Entering on one thread does not make the runtime current on another.
    let _g = rt.enter();
    let elsewhere = std::thread::spawn(|| Handle::try_current().is_none())
        .join()
        .unwrap();
    assert!(elsewhere);
}

#[test]
fn block_on_inside_enter_restores_the_entered_runtime() {
    let a = runtime("block-on-a");
    let b = runtime("block-on-b");
    let _g = a.enter();
    // Inside b.block_on, b is current; afterwards a is again.
    let inner = b.block_on(async {
        goro::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap()
    });
    assert_eq!(inner.as_deref(), Some("block-on-b"));
    assert_eq!(where_goro_spawn_runs(), "block-on-a");
}

/// Run in a child process by `readme_mistake_warns_once_in_debug_builds`:
/// the `rt.block_on(goro::spawn(f))` mistake, twice.
#[test]
fn readme_mistake_child() {
    if std::env::var_os("GORO_ENTER_TEST_CHILD").is_none() {
        return;
    }
    let rt = runtime("mistake");
    for _ in 0..2 {
        // goro::spawn runs before block_on enters rt: the default runtime.
        let name = rt
            .block_on(goro::spawn(async {
                std::thread::current().name().map(str::to_owned)
            }))
            .unwrap();
        assert_ne!(name.as_deref(), Some("mistake"));
    }
}

#[test]
fn readme_mistake_warns_once_in_debug_builds() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "readme_mistake_child", "--nocapture"])
        .env("GORO_ENTER_TEST_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings = stderr
        .matches("goro: warning: starting the default runtime")
        .count();
    let expected = usize::from(cfg!(debug_assertions));
    assert_eq!(warnings, expected, "stderr: {stderr}");
    if expected == 1 {
        assert!(
            stderr.contains("rt.enter()"),
            "the warning says what to do: {stderr}"
        );
    }
}

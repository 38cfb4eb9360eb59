//! The process-wide default emitter (in its own test binary: it can be set once per process).

use std::thread;

use tidings::{
    EmitError, Emitter, Event, EventQuery, MemoryStore, emit, get_default, set_global_default,
    with_default,
};

#[test]
fn the_global_default_is_set_once_and_seen_by_every_thread() {
    assert!(matches!(
        emit(
            Event::builder()
                .category("system")
                .action("start")
                .build()
                .unwrap()
        ),
        Err(EmitError::NoEmitter)
    ));

    let global = Emitter::builder().store(MemoryStore::unbounded()).build();
    set_global_default(global.clone()).unwrap();
    let err = set_global_default(Emitter::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a global default emitter has already been set"
    );
    assert_eq!(get_default().unwrap().system_id(), global.system_id());

    let from_thread = thread::spawn(|| {
        emit(
            Event::builder()
                .category("system")
                .action("start")
                .build()
                .unwrap(),
        )
        .is_ok()
    });
    assert!(from_thread.join().unwrap());

    // A scoped default wins over the global one.
    let scoped = Emitter::new();
    with_default(&scoped, || {
        assert_eq!(get_default().unwrap().system_id(), scoped.system_id());
    });

    let stored = global.store().unwrap().query(&EventQuery::new()).unwrap();
    assert_eq!(stored.total, 1);
    assert_eq!(stored.events[0].system_id(), Some(global.system_id()));
}

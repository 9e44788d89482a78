//! Verdicts from registrations written by SQL, one per kind of evidence:
//! on this host a live PID that is now another process, a PID that is
//! gone, a boot that is not this one; on another host a fresh lease
//! (alive), an expired one (dead), none (unknown). `force-release --dead`
//! removes exactly the dead ones.

use super::*;

#[test]
fn each_kind_of_evidence_gives_its_verdict() {
    let db = TestDb::migrated();
    let me = locksmith::host::Process::this();
    let host = locksmith::host::hostname();
    let (pid, start, boot) = (me.pid, me.start.unwrap(), me.boot_id.clone().unwrap());
    db.sql(&format!(
        r#"INSERT INTO locks (id, dataJson, version) VALUES ('{ROW}',
             '{{"reused":"reused-1","gone":"gone-1","rebooted":"reboot-1","fresh":"there-1","expired":"there-2","nolease":"there-3","numeric":42}}', 1);
           INSERT INTO locks_holders
             (holder, rowId, lockName, state, since, host, pid, pidStart, bootId, started, leaseMs, beat, fence, unlessHeld, command)
           VALUES
             ('reused-1', '{ROW}', 'reused', 'holds', UTC_TIMESTAMP(6), '{host}', {pid}, {wrong}, '{boot}', NULL, NULL, UTC_TIMESTAMP(6), 1, NULL, NULL),
             ('gone-1', '{ROW}', 'gone', 'holds', UTC_TIMESTAMP(6), '{host}', 2147483646, 5, '{boot}', NULL, NULL, UTC_TIMESTAMP(6), 1, NULL, NULL),
             ('reboot-1', '{ROW}', 'rebooted', 'holds', UTC_TIMESTAMP(6), '{host}', {pid}, {start}, 'another-boot', NULL, NULL, UTC_TIMESTAMP(6), 1, NULL, NULL),
             ('there-1', '{ROW}', 'fresh', 'holds', '2026-01-02 03:04:06', 'elsewhere.example', 4242, 77, 'their-boot', '2026-01-02 03:04:05', 30000, UTC_TIMESTAMP(6) - INTERVAL 5 SECOND, 41, NULL, 'cloudron-task 7'),
             ('there-2', '{ROW}', 'expired', 'holds', UTC_TIMESTAMP(6), 'elsewhere.example', 4243, 78, 'their-boot', NULL, 30000, UTC_TIMESTAMP(6) - INTERVAL 60 SECOND, 1, NULL, NULL),
             ('there-3', '{ROW}', 'nolease', 'holds', UTC_TIMESTAMP(6), 'elsewhere.example', 4244, 79, 'their-boot', NULL, NULL, UTC_TIMESTAMP(6), 1, NULL, NULL),
             ('42', '{ROW}', 'numeric', 'holds', UTC_TIMESTAMP(6), '{host}', 2147483646, 5, '{boot}', NULL, NULL, UTC_TIMESTAMP(6), 1, NULL, NULL)"#,
        wrong = start + 1,
    ));
    let expired_at = db
        .scalar("SELECT DATE_FORMAT(beat + INTERVAL 30 SECOND, '%Y-%m-%dT%H:%i:%sZ') FROM locks_holders WHERE holder = 'there-2'")
        .unwrap();
    let reused = format!("on this host, PID {pid} is now another process (its start time differs)");
    let gone = "on this host, PID 2147483646 is gone";
    let rebooted = format!("host {host} rebooted since (its boot id changed)");
    let expired = format!(
        "lease expired at {expired_at} by the server's clock (no heartbeat for 1m00s; lease 30s)"
    );
    let verdicts: Vec<(String, DumpLiveness)> = dump(&db, &[ROW]).rows[0]
        .locks
        .iter()
        .map(|l| (l.name.clone(), l.liveness.clone()))
        .collect();
    let want = [
        ("reused", says("dead", &reused)),
        ("gone", says("dead", gone)),
        ("rebooted", says("dead", &rebooted)),
        (
            "fresh",
            says("alive", "heartbeat 5s ago, lease 30s (server clock)"),
        ),
        ("expired", says("dead", &expired)),
        (
            "nolease",
            says(
                "unknown",
                "PID 4244 on host elsewhere.example, without a lease: only that host can tell",
            ),
        ),
        // A number is not the string "42" that registered: never judged
        // by that registration.
        ("numeric", says("unknown", "not registered by locksmith")),
    ];
    let want: Vec<(String, DumpLiveness)> =
        want.into_iter().map(|(n, l)| (n.to_string(), l)).collect();
    assert_eq!(verdicts, want);

    // What the JSON says of a registered holder.
    let fresh = lock_in(&db, ROW, "fresh").unwrap();
    let reg = fresh.registration.unwrap();
    assert_eq!(
        (
            fresh.since.as_deref(),
            reg.host.as_str(),
            reg.pid,
            reg.lease_seconds,
            reg.fence,
            reg.started.as_deref(),
            reg.command.as_deref(),
        ),
        (
            Some("2026-01-02T03:04:06Z"),
            "elsewhere.example",
            4242,
            Some(30.0),
            Some(41),
            Some("2026-01-02T03:04:05Z"),
            Some("cloudron-task 7"),
        )
    );
    assert!(
        (5.0..6.0).contains(&reg.heartbeat_age_seconds),
        "{}",
        reg.heartbeat_age_seconds
    );
    assert!(lock_in(&db, ROW, "numeric").unwrap().registration.is_none());

    // Exactly the dead go, each with its evidence; the alive and the
    // unknown stay, and so do their registrations.
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
        .succeeds_with(&format!(
            "row `{ROW}`: version 1 -> 2\n\
             released reused (held by reused-1): dead: {reused}\n\
             released gone (held by gone-1): dead: {gone}\n\
             released rebooted (held by reboot-1): dead: {rebooted}\n\
             released expired (held by there-2): dead: {expired}\n\
             3 lock(s) remain\n"
        ));
    assert_eq!(
        db.data(ROW).as_deref(),
        Some(r#"{"fresh":"there-1","nolease":"there-3","numeric":42}"#)
    );
    assert_eq!(
        db.rows("SELECT holder FROM locks_holders ORDER BY holder"),
        [["42"], ["there-1"], ["there-3"]].map(|r| vec![Some(r[0].to_string())])
    );
    let last = history(&db, ROW).pop().unwrap();
    assert_eq!(
        (last.action.as_str(), parsed(&last.evidence)),
        (
            "release-dead",
            serde_json::json!({
                "reused": reused,
                "gone": gone,
                "rebooted": rebooted,
                "expired": expired,
            })
        )
    );
}

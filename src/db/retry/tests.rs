use super::*;

fn lost() -> Error {
    Kind::Lost("gone".into()).into()
}

/// Runs `f` (the n-th attempt, whether it was told unsure) in the loop.
async fn drive<T>(retry: Retry<'_>, mut f: impl FnMut(Attempt) -> Result<T, Failure>) -> Result<T> {
    retry
        .run(|a| {
            let tried = f(a);
            async move { tried }
        })
        .await
}

/// `run_with` hands the attempt its resource and takes it back each time.
#[tokio::test(flavor = "current_thread")]
async fn run_with_hands_the_resource_to_each_attempt() {
    let d = Deadline::after(Duration::from_secs(5));
    let mut tries = Vec::new();
    let got = Retry::new(d, Policy::OPERATION)
        .run_with(&mut tries, |tries, a| async move {
            tries.push(a.number);
            let tried = match a.number {
                1 | 2 => Err(Failure::from(lost())),
                n => Ok(n * 10),
            };
            (tries, tried)
        })
        .await;
    assert_eq!(got.ok(), Some(30));
    assert_eq!(tries, [1, 2, 3]);
}

#[tokio::test(flavor = "current_thread")]
async fn passing_failures_are_retried_until_done() {
    let d = Deadline::after(Duration::from_secs(5));
    let mut seen = Vec::new();
    let got = drive(Retry::new(d, Policy::OPERATION), |a| {
        seen.push((a.number, a.unsure));
        match a.number {
            1 => Err(Failure::unsure(lost())),
            2 => Err(Kind::Transient("1213".into()).into()),
            _ => Ok(a.number),
        }
    })
    .await
    .unwrap();
    assert_eq!(got, 3);
    assert_eq!(seen, [(1, false), (2, true), (3, false)]);
}

#[tokio::test(flavor = "current_thread")]
async fn what_is_not_passing_ends_at_once() {
    let d = Deadline::after(Duration::from_secs(5));
    let mut n = 0;
    let e = drive(Retry::new(d, Policy::OPERATION), |_| -> Result<(), _> {
        n += 1;
        Err(Kind::NoRow("r".into()).into())
    })
    .await
    .unwrap_err();
    assert!(matches!(e.kind(), Kind::NoRow(_)));
    assert_eq!(n, 1);
    // A statement's policy does not retry a lost connection.
    let e = drive(Retry::new(d, Policy::STATEMENT), |_| -> Result<(), _> {
        Err(lost().into())
    })
    .await
    .unwrap_err();
    assert!(matches!(e.kind(), Kind::Lost(_)), "{e:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_deadline_ends_it_and_says_what_may_be_left() {
    let d = Deadline::after(Duration::from_millis(100));
    let t = Instant::now();
    let retry = Retry::new(d, Policy::OPERATION).pending(|| Pending::Changed { row: "r".into() });
    let e = drive(retry, |_| -> Result<(), _> { Err(Failure::unsure(lost())) })
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(1));
    match e.kind() {
        Kind::Unsettled { pending, why } => {
            assert_eq!(pending, &Pending::Changed { row: "r".into() });
            assert_eq!(why, "the deadline passed before the outcome could be told (last error: lost the connection to the server: gone)");
        }
        other => panic!("{other:?}"),
    }
    let e = drive(Retry::new(d, Policy::OPERATION), |_| -> Result<(), _> {
        Err(lost().into())
    })
    .await
    .unwrap_err();
    assert!(matches!(e.kind(), Kind::TimedOut { .. }), "{e:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_class_is_tried_as_often_as_its_curve_allows() {
    let d = Deadline::after(Duration::from_secs(30));
    let mut n = 0;
    let e = drive(Retry::new(d, Policy::OPERATION), |_| -> Result<(), _> {
        n += 1;
        Err(Kind::Contended("r".into()).into())
    })
    .await
    .unwrap_err();
    assert!(matches!(e.kind(), Kind::Contended(_)));
    assert_eq!(n, 64);
    let counted = std::sync::atomic::AtomicU32::new(0);
    let count = |_: Passing, _: &Error| {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let retry = Retry::new(d, Policy::STATEMENT).on_retry(&count);
    let e = drive(retry, |_| -> Result<(), _> {
        Err(Kind::Transient("1213".into()).into())
    })
    .await
    .unwrap_err();
    assert!(matches!(e.kind(), Kind::Transient(_)));
    assert_eq!(counted.into_inner(), 49);
}

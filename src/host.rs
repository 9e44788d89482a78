//! Who this process is, in the words locks and audit records use: the host
//! name, the operating-system user, and the default holder `HOST:PID`.

/// The login name of the user running this process: `$USER`, `$LOGNAME`,
/// or the password database's name for our uid.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    let uid = nix::unistd::Uid::current();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid{uid}"),
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// `HOST:PID` of this process: enough for an operator to find it.
pub fn default_holder() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether `holder` (`HOST:PID`, as [`default_holder`] writes it) names a
/// process of this host that is no longer running. `false` whenever that
/// cannot be told for sure: another host, a holder of another form, a
/// process that exists (even one this user may not signal).
pub fn gone(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != hostname() || pid <= 0 {
        return false;
    }
    matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

//! Questions on the terminal: confirming a destructive command, and the per-object overwrite
//! prompt.

use awcopy_engine::overwrite::Confirm;
use std::io::IsTerminal;

use crate::args::CopyArgs;
use crate::failure::Failure;

/// Asks before a destructive command; without a terminal, only `--yes` confirms.
pub fn confirm(args: &CopyArgs, what: &str) -> Result<(), Failure> {
    if args.yes || args.dry_run {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "{what} Pass --yes to confirm (there is no terminal to ask on)."
        )));
    }
    eprint!("{what} Continue? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("reading the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::usage("cancelled; nothing was changed"))
    }
}

/// Asks on the terminal, per existing object: y(es), n(o), a(ll), none.
#[derive(Debug, Default)]
pub struct TerminalConfirm {
    /// Set once the user answers "all" or "none".
    for_all: std::sync::Mutex<Option<bool>>,
}

impl Confirm for TerminalConfirm {
    fn overwrite(&self, key: &str) -> bool {
        let mut for_all = self.for_all.lock().expect("prompt lock");
        if let Some(answer) = *for_all {
            return answer;
        }
        loop {
            eprint!("overwrite {key}? [y]es, [n]o, [a]ll, n[o]ne: ");
            let mut answer = String::new();
            if std::io::stdin().read_line(&mut answer).unwrap_or(0) == 0 {
                *for_all = Some(false);
                return false;
            }
            match answer.trim() {
                "y" | "yes" => return true,
                "n" | "no" => return false,
                "a" | "all" => {
                    *for_all = Some(true);
                    return true;
                }
                "o" | "none" => {
                    *for_all = Some(false);
                    return false;
                }
                _ => continue,
            }
        }
    }
}

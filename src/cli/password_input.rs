//! Passwords come from a prompt or from standard input, never from the command line
//! (where they would sit in the shell history and the process list).

use std::io::BufRead;

use super::Failure;

pub fn read(from_stdin: bool) -> Result<String, Failure> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure(format!("cannot read the password from standard input: {e}")))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| {
        Failure(format!(
            "cannot prompt for a password ({e}); use --password-stdin"
        ))
    })?;
    let second = rpassword::prompt_password("Repeat password: ").map_err(|e| {
        Failure(format!(
            "cannot prompt for a password ({e}); use --password-stdin"
        ))
    })?;
    if first != second {
        return Err(Failure("the passwords do not match".into()));
    }
    Ok(first)
}

//! `bulkrefund journal copy --to postgres://…`: the configured SQLite journal
//! copied whole into an empty PostgreSQL journal and proven there, in one
//! transaction (journal/postgres/copy.rs): exit 0 with the proof's table,
//! 2 when the target is not empty (nothing copied), 1 when the proof found a
//! difference (rolled back; each difference printed). The password comes
//! from `--password-env`/`--password-file`, else the password file, and is
//! never printed.

use std::path::PathBuf;

use crate::cli::CopyArgs;
use crate::exit::{self, UsageError};
use crate::journal::postgres::copy::{self, CopyError, Proof};
use crate::journal::postgres::{self as pg, ConfiguredSecret, Passfile, PgError};
use crate::journal::sqlite::SqliteJournal;
use crate::money::Fen;
use crate::options::Locations;
use crate::secret::SecretRef;

pub fn main(locations: &Locations, args: &CopyArgs) -> anyhow::Result<u8> {
    let (journal_at, _) = locations.journal_only()?;
    let Some(path) = journal_at.path() else {
        return Err(UsageError(format!(
            "journal copy copies a SQLite journal into PostgreSQL, and the journal named is {}: \
             name the SQLite journal with --journal FILE",
            journal_at.display()
        ))
        .into());
    };
    let Some(source) = SqliteJournal::open_read_only(path)? else {
        return Err(UsageError(format!(
            "There is no journal at '{}': nothing to copy",
            journal_at.display()
        ))
        .into());
    };
    let reference = match (&args.password_env, &args.password_file) {
        (Some(env), _) => Some(SecretRef::Env { env: env.clone() }),
        (None, Some(file)) => Some(SecretRef::File { file: file.clone() }),
        (None, None) => None,
    };
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let url = args.to.clone();
    // The `postgres` client runs a runtime of its own, which must not start
    // inside this command's: it lives on a thread of its own.
    let copied = std::thread::spawn(move || {
        let secret = reference.as_ref().map(|reference| ConfiguredSecret {
            reference,
            dir: &here,
        });
        let mut opened = pg::open(&url, secret, &Passfile::from_env())?;
        let proof = copy::copy(&mut opened.client, &source)?;
        Ok::<_, CopyError>((proof, opened.login.target.at(), opened.person))
    })
    .join()
    .expect("the copy's thread panicked");
    match copied {
        Ok((proof, at, person)) => {
            crate::say!(
                "copied the journal '{}' to PostgreSQL at {at} as role '{person}', proven:",
                journal_at.display()
            );
            say_proof(&proof);
            Ok(exit::SUCCESS)
        }
        Err(CopyError::Differs(differences)) => {
            crate::say_error!("Error: {}", CopyError::Differs(Vec::new()));
            for d in &differences {
                crate::say_error!(
                    "  {}, {}: SQLite {}, PostgreSQL {}",
                    d.place,
                    d.figure,
                    d.sqlite,
                    d.postgres
                );
            }
            Ok(exit::FATAL)
        }
        Err(e @ CopyError::NotEmpty { .. }) => Err(UsageError(e.to_string()).into()),
        Err(CopyError::Pg(
            e @ (PgError::Url { .. } | PgError::PasswordInUrl | PgError::Secret(_)),
        )) => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

/// The proof's table: each table's rows, then each batch's refunds and yuan by state.
fn say_proof(proof: &Proof) {
    for (table, rows) in &proof.tables {
        crate::say!("  {table:<20} {rows:>10} rows");
    }
    let mut batch = None;
    for figure in &proof.refunds {
        if batch != Some(figure.batch) {
            batch = Some(figure.batch);
            crate::say!("  batch {}:", figure.batch);
        }
        let yuan = u64::try_from(figure.fen).map_or_else(
            |_| format!("{} fen", figure.fen),
            |fen| format!("{} yuan", Fen(fen).grouped()),
        );
        crate::say!(
            "    {:<12} {:>8} refunds {yuan:>16}",
            figure.key,
            figure.count
        );
    }
}

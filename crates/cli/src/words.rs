//! Splitting a `crypta shell` line into words: whitespace-separated, with single and double
//! quotes (CQL statements keep their inner quotes when wrapped in the other kind).

/// Splits `line` into words, or says where a quote is unterminated.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated {quote} quote")),
                        Some('\\') if quote == '"' => match chars.next() {
                            Some(e) => cur.push(e),
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(x) if x == quote => break,
                        Some(x) => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The words of a `crypta shell` command line: as [`split`], except that `cql` followed by an
/// unquoted statement takes the rest of the line, as it is, as that statement (CQL has quotes
/// of its own). A quoted statement (`cql "..."`) and options (`cql --help`) are split as usual.
pub fn command_words(line: &str) -> Result<Vec<String>, String> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("cql")
        && rest.starts_with(char::is_whitespace)
    {
        let statement = rest.trim();
        if !statement.starts_with(['"', '\'', '-']) {
            return Ok(vec!["cql".to_string(), statement.to_string()]);
        }
    }
    split(line)
}

#[cfg(test)]
mod tests {
    use super::{command_words, split};

    #[test]
    fn cql_takes_the_rest_of_the_line() {
        let stmt = "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor'}";
        assert_eq!(
            command_words(&format!("cql {stmt}")).unwrap(),
            ["cql", stmt]
        );
        assert_eq!(
            command_words(&format!("  cql \t {stmt}  ")).unwrap(),
            ["cql", stmt]
        );
        assert_eq!(
            command_words(&format!("cql \"{stmt}\"")).unwrap(),
            ["cql", stmt]
        );
        assert_eq!(
            command_words("cql 'DESC TABLE ks.t'").unwrap(),
            ["cql", "DESC TABLE ks.t"]
        );
        assert_eq!(command_words("cql --help").unwrap(), ["cql", "--help"]);
        assert_eq!(command_words("cql").unwrap(), ["cql"]);
        // Only the command `cql`, not a word that starts with it.
        assert_eq!(command_words("cqlx a 'b c'").unwrap(), ["cqlx", "a", "b c"]);
        assert_eq!(
            command_words("put ks.t k 'a b'").unwrap(),
            ["put", "ks.t", "k", "a b"]
        );
    }

    #[test]
    fn quotes_and_spaces() {
        assert_eq!(
            split("put ks.t k 'a b'").unwrap(),
            ["put", "ks.t", "k", "a b"]
        );
        assert_eq!(
            split(r#"cql "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor'}""#).unwrap(),
            ["cql", "CREATE TABLE ks.t (id text PRIMARY KEY, v text) WITH compression = {'class': 'Encryptor'}"]
        );
        assert_eq!(split("  get   ks.t ''  ").unwrap(), ["get", "ks.t", ""]);
        assert!(split("put 'oops").is_err());
    }
}

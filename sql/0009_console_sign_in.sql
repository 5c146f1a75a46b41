-- Sign-in for the web console: passwords, sessions, and failed attempts for throttling.

-- A user's password (bcrypt) and the login it signs in with: the user's email, lower-cased,
-- at the time the password was set. One login, one user.
CREATE TABLE user_passwords (
    user_id     uuid        PRIMARY KEY REFERENCES users (id),
    login       text        NOT NULL UNIQUE CHECK (login = lower(login) AND char_length(login) BETWEEN 3 AND 320),
    hash        text        NOT NULL CHECK (hash LIKE '$2%'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Console sessions: only the SHA-256 of the 256-bit token is kept. `csrf_token` is echoed in
-- every form of the session and checked on every POST.
CREATE TABLE console_sessions (
    token_hash   bytea       PRIMARY KEY,
    user_id      uuid        NOT NULL REFERENCES users (id),
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- Failed sign-ins, by login and by address, for throttling; old rows are pruned as new ones come.
CREATE TABLE sign_in_failures (
    subject    text        NOT NULL CHECK (char_length(subject) <= 400),
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures (subject, failed_at);

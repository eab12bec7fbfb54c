package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL of the tests. One server per test process: the first of
//
//   - IM_TEST_POSTGRES_URL, when set (a postgres:// URL of a role that may
//     create databases; without that right the URL's own database is used);
//   - a server already listening on 127.0.0.1:5432 that lets the user
//     postgres, or root, in without a password;
//   - a private server this process starts: initdb (installed with apt-get
//     when missing and running as root) on a temp folder, trust
//     authentication, on a free loopback port, stopped at exit.
//
// On it the process creates one database, im_test_<random>, dropped at
// exit, and each PostgresURL call gets a schema of its own in it, named by
// search_path in the URL: CREATE DATABASE takes 100-200 ms (it copies a
// template and checkpoints), CREATE SCHEMA about a millisecond, and the
// conformance suite wants a hundred empty stores.

var (
	pgOnce sync.Once
	pgEnv  *postgresEnv
	pgErr  error
)

// postgresEnv is the per-process test database.
type postgresEnv struct {
	base *url.URL      // of the test database
	pool *pgxpool.Pool // on it, to create schemas
	// ownDB is false when the role could not create a database and the
	// schemas were made in the database of IM_TEST_POSTGRES_URL: they are
	// then dropped one by one at exit.
	ownDB bool

	mu      sync.Mutex
	schemas []string
}

// PostgresURL returns the URL of an empty database of the caller's own: a
// fresh schema in the process's test database, which the URL selects with
// search_path (tables created through it land there). When no server can be
// found or started, the test is skipped, or fails under CI=true.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	pgOnce.Do(func() { pgEnv, pgErr = setupPostgres() })
	if pgErr != nil {
		if inCI() {
			tb.Fatalf("testenv: postgres: %v", pgErr)
		}
		tb.Skipf("testenv: postgres: %v (set IM_TEST_POSTGRES_URL, or install PostgreSQL)", pgErr)
	}
	u, err := pgEnv.newSchema()
	if err != nil {
		tb.Fatalf("testenv: postgres: %v", err)
	}
	return u
}

// newSchema creates a schema and returns the URL that selects it.
func (e *postgresEnv) newSchema() (string, error) {
	name := UniqueName("t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create schema %s: %w", name, err)
	}
	e.mu.Lock()
	e.schemas = append(e.schemas, name)
	e.mu.Unlock()
	u := *e.base
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// setupPostgres finds or starts the server and creates the test database.
func setupPostgres() (*postgresEnv, error) {
	admin, err := postgresServer()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redacted(admin), err)
	}
	defer conn.Close(ctx)

	e := &postgresEnv{base: admin}
	db := UniqueName("im_test")
	switch _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); {
	case err == nil:
		e.ownDB = true
		u := *admin
		u.Path = "/" + db
		e.base = &u
		atExit(func() { dropDatabase(admin, db) })
	case isPgCode(err, "42501"): // insufficient_privilege
		logf("postgres: cannot create a database (%v); using schemas in %s", err, redacted(admin))
	default:
		return nil, fmt.Errorf("create database %s: %w", db, err)
	}
	if e.pool, err = pgxpool.New(ctx, e.base.String()); err != nil {
		return nil, fmt.Errorf("connect %s: %w", redacted(e.base), err)
	}
	// Registered after the database's drop, so run before it.
	atExit(e.close)
	logf("postgres: test database %s", redacted(e.base))
	return e, nil
}

// close drops the schemas of a database the process does not own, and
// closes the pool.
func (e *postgresEnv) close() {
	if !e.ownDB {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		e.mu.Lock()
		for _, s := range e.schemas {
			if _, err := e.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				logf("postgres: drop schema %s: %v", s, err)
			}
		}
		e.schemas = nil
		e.mu.Unlock()
	}
	e.pool.Close()
}

// dropDatabase drops db, disconnecting whoever is still on it.
func dropDatabase(admin *url.URL, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		logf("postgres: drop database %s: %v", db, err)
		return
	}
	defer conn.Close(ctx)
	q := "DROP DATABASE IF EXISTS " + pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, q+" WITH (FORCE)"); err != nil {
		// Before PostgreSQL 13 there is no FORCE.
		if _, err2 := conn.Exec(ctx, q); err2 != nil {
			logf("postgres: drop database %s: %v", db, errors.Join(err, err2))
		}
	}
}

// postgresServer returns an admin URL of the server to use, starting one
// when none is configured or listening.
func postgresServer() (*url.URL, error) {
	if s := os.Getenv("IM_TEST_POSTGRES_URL"); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, errors.New("IM_TEST_POSTGRES_URL must be a postgres:// URL")
		}
		logf("using PostgreSQL at IM_TEST_POSTGRES_URL")
		return u, nil
	}
	var tried []string
	if c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second); err == nil {
		c.Close()
		for _, role := range []string{"postgres", "root"} {
			u := &url.URL{Scheme: "postgres", User: url.User(role), Host: "127.0.0.1:5432", Path: "/postgres",
				RawQuery: "sslmode=disable"}
			err := postgresPing(u)
			if err == nil {
				logf("using PostgreSQL at 127.0.0.1:5432 as %s", role)
				return u, nil
			}
			tried = append(tried, fmt.Sprintf("127.0.0.1:5432 as %s: %v", role, err))
		}
	}
	u, err := startPostgres()
	if err != nil {
		return nil, errors.Join(append(stringErrs(tried), err)...)
	}
	return u, nil
}

func stringErrs(ss []string) []error {
	out := make([]error, len(ss))
	for i, s := range ss {
		out[i] = errors.New(s)
	}
	return out
}

// postgresPing connects to u and runs a query.
func postgresPing(u *url.URL) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// isPgCode reports whether err is a server error with this SQLSTATE.
func isPgCode(err error, code string) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pe.Code == code
}

// redacted is u without its password, for messages.
func redacted(u *url.URL) string { return u.Redacted() }

// startPostgres runs a private server (initdb on a temp folder, trust
// authentication, a free loopback port, its socket in the folder) and
// returns its admin URL; the server is stopped and the folder removed at
// exit. The postgres process is a child of the test process, killed if
// the test process dies (Pdeathsig), which a server daemonised by pg_ctl
// would survive.
func startPostgres() (*url.URL, error) {
	s, err := newPGServer()
	if err != nil {
		return nil, err
	}
	atExit(s.remove)
	logf("started postgres (%s) on 127.0.0.1:%d", s.bin, s.port)
	return s.adminURL(), nil
}

// PGServer is a private PostgreSQL server owned by one test, for tests
// that stop and restart the database under load (Stop, Start, Restart):
// never the machine's shared server, which other tests use. It runs from
// a temp folder (initdb, trust authentication, fsync off) on a loopback
// port that stays the same across restarts, so URL does too.
type PGServer struct {
	bin, dir, data string
	port           int
	cred           *syscall.Credential

	mu   sync.Mutex
	stop func() // of the running server; nil when stopped
}

// PrivatePostgres initialises and starts a PostgreSQL server of the
// test's own; it is stopped and its folder removed when the test ends.
// Without a PostgreSQL installation (and no way to install it) the test
// is skipped, or fails under CI=true.
func PrivatePostgres(tb testing.TB) *PGServer {
	tb.Helper()
	if _, err := postgresBinaries(); err != nil {
		if inCI() {
			tb.Fatalf("testenv: postgres: %v", err)
		}
		tb.Skipf("testenv: postgres: %v (install PostgreSQL)", err)
	}
	s, err := newPGServer()
	if err != nil {
		tb.Fatalf("testenv: postgres: %v", err)
	}
	tb.Cleanup(s.remove)
	tb.Logf("testenv: private postgres (%s) on 127.0.0.1:%d", s.bin, s.port)
	return s
}

// URL is a postgres:// URL of the server's database postgres, as the
// superuser postgres.
func (s *PGServer) URL() string { return s.adminURL().String() }

// Port is the server's TCP port on 127.0.0.1.
func (s *PGServer) Port() int { return s.port }

// Stop shuts the server down in fast mode (SIGINT: open transactions are
// rolled back, clients disconnected, a checkpoint written) and waits for
// it to exit. Stopping a stopped server does nothing.
func (s *PGServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// Start runs the server again on its data folder and port and waits until
// it answers queries. Starting a running server does nothing.
func (s *PGServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return nil
	}
	stop, err := runPostgres(s.bin, s.dir, s.data, s.port, s.cred)
	if err != nil {
		return err
	}
	s.stop = stop
	return nil
}

// Restart is Stop then Start.
func (s *PGServer) Restart() error {
	s.Stop()
	return s.Start()
}

// remove stops the server and deletes its folder.
func (s *PGServer) remove() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

func (s *PGServer) adminURL() *url.URL {
	return &url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(s.port),
		Path: "/postgres", RawQuery: "sslmode=disable"}
}

// newPGServer runs initdb on a temp folder and starts the server on a
// free loopback port. The caller removes it (remove).
func newPGServer() (*PGServer, error) {
	bin, err := postgresBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "im-postgres-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	// PostgreSQL refuses to run as root: run it as the user postgres.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		if cred, err = postgresUser(); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "--username=postgres", "--auth=trust",
		"--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	s := &PGServer{bin: bin, dir: dir, data: data, cred: cred}
	for try := 0; try < 5; try++ {
		if s.port, err = freeLoopbackPort(); err != nil {
			break
		}
		if err = s.Start(); err == nil {
			ok = true
			return s, nil
		}
	}
	return nil, err
}

// runPostgres starts the server on port and waits until it answers. The
// server is a throwaway: fsync is off.
func runPostgres(bin, dir, data string, port int, cred *syscall.Credential) (stop func(), err error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	stop = func() {
		// SIGINT is the fast shutdown: roll back, disconnect, exit.
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	u := &url.URL{Scheme: "postgres", User: url.User("postgres"), Host: "127.0.0.1:" + strconv.Itoa(port),
		Path: "/postgres", RawQuery: "sslmode=disable"}
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if last = postgresPing(u); last == nil {
			return stop, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("postgres on port %d exited at start (see %s)", port, logTail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	return nil, fmt.Errorf("postgres on port %d did not answer in 30s: %v", port, last)
}

// logTail returns the end of a log file, for an error message.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return path + ":\n" + string(b)
}

// postgresBinaries returns the folder of initdb and postgres: that of
// initdb on PATH, else the newest /usr/lib/postgresql/*/bin, after
// installing the package with apt-get when neither exists and the process
// runs as root.
func postgresBinaries() (string, error) {
	find := func() (string, bool) {
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			dir := filepath.Dir(p)
			if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
				return dir, true
			}
		}
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, true
			}
		}
		return "", false
	}
	if d, ok := find(); ok {
		return d, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("no server at 127.0.0.1:5432 and initdb not found (PATH, /usr/lib/postgresql/*/bin); install postgresql")
	}
	logf("postgres: initdb missing: installing postgresql with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "postgresql"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %v: %v\n%s", args, err, out)
		}
	}
	if d, ok := find(); ok {
		return d, nil
	}
	return "", errors.New("initdb not found after apt-get install postgresql")
}

// pgMajor is the major version in a /usr/lib/postgresql/<N>/bin path.
func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// postgresUser returns the credential of the user postgres, which the
// Debian package creates.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL will not: no user postgres to run it as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

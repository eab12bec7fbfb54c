package standalone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// ErrInUse means another standalone server holds the data folder.
var ErrInUse = errors.New("the data folder is in use by a running standalone server")

// lockDataDir creates dir if needed and takes the exclusive lock on its LOCK
// file; closing the file releases it (so does the process ending, however
// it ends).
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("data folder %s: lock: %w", dir, err)
	}
	return f, nil
}

// Backup writes a consistent copy of the SQLite database of cfg.DataDir to
// dst (which must not exist), whether or not a server is running on it: the
// copy is one read transaction (VACUUM INTO), so writers go on meanwhile.
func Backup(ctx context.Context, cfg config.Config, dst string) error {
	src := filepath.Join(cfg.DataDir, DBFile)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: no database at %s: %w", src, err)
	}
	st, err := sqlite.Open(ctx, src, sqlite.Options{SkipQuickCheck: true, Readers: 1})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer st.Close(context.WithoutCancel(ctx))
	if err := st.Backup(ctx, dst); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Restore replaces the database of cfg.DataDir with the backup at src. The
// server must be stopped (Restore takes the data folder's lock). The backup
// is checked (integrity, schema version) on a copy before anything is
// replaced, and the database it replaces is kept beside it as
// im.db.replaced-<time>; it returns that path ("" when there was none).
func Restore(ctx context.Context, cfg config.Config, src string) (kept string, err error) {
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return "", fmt.Errorf("restore: %w (stop it first)", err)
	}
	defer lock.Close()
	db := filepath.Join(cfg.DataDir, DBFile)
	tmp := db + ".restoring"
	removeDB(tmp)
	if err := copyFile(src, tmp); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	defer removeDB(tmp)
	// Opening checks the file and brings its schema up to date.
	st, err := sqlite.Open(ctx, tmp, sqlite.Options{})
	if err != nil {
		return "", fmt.Errorf("restore: %s is not a usable backup: %w", src, err)
	}
	if err := st.Close(ctx); err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(db); err == nil {
		// Fold the current database's WAL into it (a crashed server
		// leaves committed transactions there), then set it aside.
		cur, err := sqlite.Open(ctx, db, sqlite.Options{SkipQuickCheck: true})
		if err != nil {
			return "", fmt.Errorf("restore: the current database: %w", err)
		}
		if err := cur.Close(ctx); err != nil {
			return "", fmt.Errorf("restore: the current database: %w", err)
		}
		kept = db + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(db, kept); err != nil {
			return "", fmt.Errorf("restore: %w", err)
		}
		removeDB(db) // its -wal and -shm, now empty
	}
	if err := os.Rename(tmp, db); err != nil {
		return kept, fmt.Errorf("restore: %w", err)
	}
	return kept, nil
}

// removeDB removes a database file with its WAL and shared-memory files.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// lockLease is the longest a lock document (member_lock, message_lock,
// file_lock) is held on FerretDB: a lock whose lease ran out is taken to
// belong to a crashed caller and is broken, and a holder stops working on
// the locked document when its lease ends.
const lockLease = 5 * time.Second

// SetReadSeq raises the member's read seq to seq and never lowers it;
// store.ErrNotFound if the membership does not exist. It is exact under
// concurrency: whatever calls race for one membership, the highest seq
// stays stored.
//
// On MongoDB it is one UpdateOne with {$max: {read_seq: seq}}, atomic on the
// document.
//
// FerretDB (told apart once per Store with buildInfo) applies an update as a
// read followed by an unconditional replace of the document, so there racing
// updates lose raises whatever their filter. There the read-modify-write
// (read the member, write seq if it is higher) is serialised per membership
// by a lock document in CollMemberLocks, _id "<room>|<user>", taken with
// InsertOne: FerretDB enforces the unique _id atomically. A caller that
// finds the lock taken polls it every 1-5 ms until it is released, or ctx
// (or Options.OpTimeout) ends: then it fails with store.ErrUnavailable. A
// lock whose lease (5 s) has ended is deleted and taken over. The same lock
// serialises MarkMentioned's raises of the member's mention seq, which
// would otherwise replace the document too.
//
// Calls of one Store for one membership first queue in the process, so that
// one of them at a time competes for the lock document.
//
// The one known imperfection of the FerretDB path needs a crash: a caller
// that dies while holding the lock (or stalls past its lease) delays that
// member's read marks until the lease ends, and two callers breaking the
// same stale lock at the same moment may both proceed, so one raise may be
// lost. Everything else is exact. The lease compares the clocks of the
// processes sharing the database, which must agree to well under 5 s.
func (s *Store) SetReadSeq(ctx context.Context, roomID, userID string, seq int64) error {
	const op = "set read seq"
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if ferret {
		return s.setReadSeqLocked(ctx, op, roomID, userID, seq)
	}
	res, err := s.members.UpdateOne(ctx, memberFilter(roomID, userID),
		bson.D{{Key: "$max", Value: bson.D{{Key: "read_seq", Value: seq}}}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// setReadSeqLocked is SetReadSeq on FerretDB: read and raise the mark
// under the membership's lock.
func (s *Store) setReadSeqLocked(ctx context.Context, op, roomID, userID string, seq int64) error {
	return s.raiseMemberLocked(ctx, op, roomID, userID, "read_seq", seq)
}

// raiseMemberLocked raises the integer field of a membership to seq under
// the membership's lock (FerretDB): read it, write seq if it is higher.
// store.ErrNotFound if the membership does not exist.
func (s *Store) raiseMemberLocked(ctx context.Context, op, roomID, userID, field string, seq int64) error {
	return s.withLock(ctx, op, s.locks, roomID+"|"+userID, func(ctx context.Context) error {
		filter := memberFilter(roomID, userID)
		raw, err := s.members.FindOne(ctx, filter).Raw()
		if err != nil {
			return mapErr(op, err)
		}
		if cur, ok := raw.Lookup(field).AsInt64OK(); ok && cur >= seq {
			return nil
		}
		res, err := s.members.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: seq}}}})
		if err != nil {
			return mapErr(op, err)
		}
		if res.MatchedCount == 0 { // removed since the read
			return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
		}
		return nil
	})
}

// withLock runs f holding the lock document id of coll (CollMemberLocks,
// CollMessageLocks, CollFileLocks), with a context that ends with the
// lock's lease. Callers of this Store queue in the process first (s.local),
// so that one of them at a time polls the lock document.
func (s *Store) withLock(ctx context.Context, op string, coll *mdb.Collection, id string, f func(ctx context.Context) error) error {
	unlock, err := s.local.lock(ctx, coll.Name()+"|"+id)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	defer unlock()
	lock, err := s.lockDocument(ctx, coll, id)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	defer s.unlockDocument(ctx, coll, lock)
	// Past the lease another caller may break the lock: stop there.
	ctx, cancel := context.WithDeadline(ctx, lock.ExpiresAt)
	defer cancel()
	return f(ctx)
}

// lockDoc is a lock document (of CollMemberLocks, CollMessageLocks,
// CollFileLocks, CollPasswordLocks). ExpiresAt, unique per holder of one
// lock (a lock is only broken once its lease has ended, so the next holder's
// ends later), also identifies the holder.
type lockDoc struct {
	ID        string    `bson:"_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// lockDocument takes the lock id of coll: InsertOne, and while another
// caller holds the lock, poll it with reads (cheaper for FerretDB than
// failed inserts) every 1-5 ms, breaking it once its lease has ended. It
// fails when ctx ends (see ctxErr).
func (s *Store) lockDocument(ctx context.Context, coll *mdb.Collection, id string) (lockDoc, error) {
	op := "lock " + coll.Name()
	byID := bson.D{{Key: "_id", Value: id}}
	for {
		lock := lockDoc{ID: id, ExpiresAt: dbTime(time.Now().Add(lockLease))}
		_, err := coll.InsertOne(ctx, lock)
		if err == nil {
			return lock, nil
		}
		if !mdb.IsDuplicateKeyError(err) {
			return lockDoc{}, mapErr(op, err)
		}
		for held := true; held; {
			var h lockDoc
			err = coll.FindOne(ctx, byID).Decode(&h)
			switch {
			case errors.Is(err, mdb.ErrNoDocuments):
				held = false // released: try again
			case err != nil:
				return lockDoc{}, mapErr(op, err)
			case time.Now().After(h.ExpiresAt):
				// The holder crashed. Delete that lock only, not
				// one a concurrent breaker may have taken since.
				_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "expires_at", Value: h.ExpiresAt}})
				if err != nil {
					return lockDoc{}, mapErr(op+": break stale lock", err)
				}
				held = false
			default:
				t := time.NewTimer(time.Millisecond + rand.N(4*time.Millisecond))
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return lockDoc{}, fmt.Errorf("mongo: %s %q: held by another caller: %w", op, id, ctxErr(ctx))
				}
			}
		}
	}
}

// ctxErr is the error of an ended ctx: also store.ErrUnavailable for a
// deadline, a plain cancellation otherwise.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, ctx.Err())
	}
	return ctx.Err()
}

// keyedMutex is a set of mutexes named by strings, made on first use and
// dropped when nobody holds or waits for them. The zero value is ready.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	ch    chan struct{} // holds a token while locked
	users int           // holders and waiters; guarded by keyedMutex.mu
}

// lock locks the mutex key, waiting until ctx ends (see ctxErr), and
// returns its unlock function.
func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.m[key] = e
	}
	e.users++
	k.mu.Unlock()
	leave := func() {
		k.mu.Lock()
		if e.users--; e.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctxErr(ctx)
	}
}

// unlockDocument releases a lock of coll taken by lockDocument, even when
// ctx has ended. A failure is not reported: the caller's work is done, and
// the lock is broken once its lease ends.
func (s *Store) unlockDocument(ctx context.Context, coll *mdb.Collection, lock lockDoc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opTimeout)
	defer cancel()
	_, _ = coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: lock.ID}, {Key: "expires_at", Value: lock.ExpiresAt}})
}

// isFerretDB reports whether the server is FerretDB, which answers
// buildInfo with a ferretdbVersion field. The server is asked once per
// Store; a failure to ask is returned and not remembered.
func (s *Store) isFerretDB(ctx context.Context) (bool, error) {
	s.kindMu.Lock()
	defer s.kindMu.Unlock()
	if s.kindKnown {
		return s.ferret, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	raw, err := s.db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return false, mapErr("build info", err)
	}
	_, err = raw.LookupErr("ferretdbVersion")
	s.ferret, s.kindKnown = err == nil, true
	return s.ferret, nil
}

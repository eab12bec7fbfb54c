package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

var (
	errWrongPassword = protocol.Errorf(protocol.CodeForbidden, "the current password is wrong")
	errPasswordRaced = protocol.Errorf(protocol.CodeConflict, "the password was changed meanwhile; try again with the new one")
)

// checkPassword counts an attempt against the user's limit, then checks
// password against the user's hash; a wrong one answers forbidden.
func (s *Service) checkPassword(ctx context.Context, u *store.User, password string) error {
	if password == "" || len(password) > 4*MaxPassword {
		return invalid("the current password is required")
	}
	if err := s.hit(ctx, "pw:u:"+u.ID, s.lim.PasswordPerUser); err != nil {
		return err
	}
	var ok bool
	var err error
	if herr := s.withHashing(ctx, func() { ok, err = auth.VerifyPassword(u.PasswordHash, password) }); herr != nil {
		return herr
	}
	if err != nil {
		return protocol.Internal(err)
	}
	if !ok {
		return errWrongPassword
	}
	return nil
}

func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	var hash string
	var err error
	if herr := s.withHashing(ctx, func() { hash, err = auth.HashPassword(password) }); herr != nil {
		return "", herr
	}
	if err != nil {
		return "", protocol.Internal(err)
	}
	return hash, nil
}

// setPassword replaces u's password hash if nobody changed it since u was
// read: of concurrent changes exactly one wins, the others answer conflict.
func (s *Service) setPassword(ctx context.Context, u *store.User, hash string) error {
	err := s.st.SetPasswordHash(ctx, u.ID, u.PasswordHash, hash)
	if errors.Is(err, store.ErrConflict) {
		return errPasswordRaced
	}
	return storeErr("password", err)
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session of the user (sid, the caller's, is kept). When
// it fails nothing changed: no password, no session.
func (s *Service) ChangePassword(ctx context.Context, uid, sid, current, next string) error {
	if err := validPassword(next); err != nil {
		return err
	}
	u, err := s.Me(ctx, uid)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, u, current); err != nil {
		return err
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	if err := s.setPassword(ctx, u, hash); err != nil {
		return err
	}
	_ = s.rl.Reset(ctx, "pw:u:"+uid)
	if sid == "" {
		// A token from before sessions were recorded: there is no
		// session to keep, so every one ends.
		return s.revokeAll(ctx, uid, "", RevokedPassword)
	}
	return s.revokeAll(ctx, uid, sid, RevokedPassword)
}

// RequestPasswordReset mails a reset code to email if an account has it.
// The answer, and the time it takes, do not depend on that: the mail goes
// out in the background, and the rate limits count every request.
func (s *Service) RequestPasswordReset(ctx context.Context, email, ip string) error {
	e, ok := normalizeEmail(email)
	if !ok {
		return invalid("email is not a valid address")
	}
	if err := s.resetCodes.Limit(ctx, e, ip); err != nil {
		return err
	}
	u, err := s.st.UserByEmail(ctx, e)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Deleted() {
		return nil
	}
	if err != nil {
		return storeErr("password reset", err)
	}
	s.background("password reset mail", func(ctx context.Context) error { return s.resetCodes.Send(ctx, e) })
	return nil
}

// ConfirmPasswordReset sets a new password with a reset code, and ends
// every session of the account.
func (s *Service) ConfirmPasswordReset(ctx context.Context, email, code, next string) error {
	e, ok := normalizeEmail(email)
	if !ok {
		return invalid("email is not a valid address")
	}
	if !validCode(code) {
		return invalid("code must be 6 digits")
	}
	if err := validPassword(next); err != nil {
		return err
	}
	if err := s.resetCodes.Check(ctx, e, code); err != nil {
		return err
	}
	u, err := s.st.UserByEmail(ctx, e)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Deleted() {
		return emailcode.ErrBadCode
	}
	if err != nil {
		return storeErr("password reset", err)
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	if err := s.resetCodes.Consume(ctx, e, code); err != nil {
		return err
	}
	if err := s.setPassword(ctx, u, hash); err != nil {
		return err
	}
	// The owner proved the address: lift the login lockout.
	_ = s.rl.Reset(ctx, "login:u:"+u.ID)
	_ = s.rl.Reset(ctx, "pw:u:"+u.ID)
	return s.revokeAll(ctx, u.ID, "", RevokedPassword)
}

func validCode(c string) bool { return len(c) == 6 && strings.Trim(c, "0123456789") == "" }

// RequestEmailChange mails a code to the new address the caller wants.
// Like a password reset it answers alike whether or not the address is
// taken (a taken one gets no mail, and ChangeEmail refuses it), so it
// cannot be used to find out who has an account; the mail goes out in the
// background.
func (s *Service) RequestEmailChange(ctx context.Context, uid, email, ip string) error {
	e, ok := normalizeEmail(email)
	if !ok {
		return invalid("email is not a valid address")
	}
	u, err := s.Me(ctx, uid)
	if err != nil {
		return err
	}
	if e == u.Email {
		return invalid("that is already your email address")
	}
	if err := s.emailCodes.Limit(ctx, e, ip); err != nil {
		return err
	}
	if err := s.emailFree(ctx, e); err != nil {
		if protocol.AsError(err).Code == protocol.CodeConflict {
			return nil
		}
		return err
	}
	s.background("email change code", func(ctx context.Context) error { return s.emailCodes.Send(ctx, e) })
	return nil
}

func (s *Service) emailFree(ctx context.Context, e string) error {
	_, err := s.st.UserByEmail(ctx, e)
	if err == nil {
		return protocol.Errorf(protocol.CodeConflict, "email is already registered")
	}
	if !errors.Is(err, store.ErrNotFound) {
		return storeErr("email", err)
	}
	return nil
}

// ChangeEmail moves the caller to a new address proven by its code, and
// tells the old address.
func (s *Service) ChangeEmail(ctx context.Context, uid, email, code string) (*store.User, error) {
	e, ok := normalizeEmail(email)
	if !ok {
		return nil, invalid("email is not a valid address")
	}
	if !validCode(code) {
		return nil, invalid("code must be 6 digits")
	}
	if err := s.emailCodes.Check(ctx, e, code); err != nil {
		return nil, err
	}
	u, err := s.Me(ctx, uid)
	if err != nil {
		return nil, err
	}
	if err := s.emailFree(ctx, e); err != nil {
		return nil, err
	}
	if err := s.emailCodes.Consume(ctx, e, code); err != nil {
		return nil, err
	}
	switch err := s.st.SetEmail(ctx, uid, e); {
	case errors.Is(err, store.ErrDuplicate):
		return nil, protocol.Errorf(protocol.CodeConflict, "email is already registered")
	case err != nil:
		return nil, storeErr("email", err)
	}
	old := u.Email
	if s.mail != nil {
		s.background("email change notice", func(ctx context.Context) error {
			return s.mail.Send(ctx, old, "Your im-websocket-go email address was changed",
				fmt.Sprintf("The email address of your account %s was changed to %s.\n\nIf you did not do this, reset your password and contact support.\n", u.Account, e))
		})
	}
	u.Email = e
	return u, nil
}

// background runs f in a goroutine with its own deadline, at most
// maxMailing at once; past that it runs f here (the caller waits rather
// than the queue growing).
func (s *Service) background(what string, f func(ctx context.Context) error) {
	run := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f(ctx); err != nil {
			s.log.Warn(what+" failed", zap.Error(err))
		}
	}
	select {
	case s.mailing <- struct{}{}:
		go func() {
			defer func() { <-s.mailing }()
			run()
		}()
	default:
		run()
	}
}

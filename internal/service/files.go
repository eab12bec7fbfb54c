package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/media"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// MaxFileName is the longest file name kept, in bytes.
const MaxFileName = 255

// OrphanAge is how long an uploaded file may wait for the message that
// carries it before housekeeping deletes it.
const OrphanAge = 24 * time.Hour

// MaxUpload is the largest file an upload takes, in bytes.
func (s *Service) MaxUpload() int64 {
	if s.media.MaxSize > 0 {
		return s.media.MaxSize
	}
	return media.DefaultMaxSize
}

var errNoBlobs = protocol.Unavailable(errors.New("file storage is not configured"))

// Upload stores a file for a message of roomID: the bytes are checked (the
// content type is sniffed from them, never taken from the client; size and
// type limits; an image's pixel count before it is decoded), stored in the
// blob store with the thumbnail of an image, and recorded. The client then
// sends a message of kind image or file with the returned file's id.
func (s *Service) Upload(ctx context.Context, uid, roomID, name string, r io.Reader) (*store.File, error) {
	if s.blobs == nil {
		return nil, errNoBlobs
	}
	if err := s.CheckMember(ctx, uid, roomID); err != nil {
		return nil, err
	}
	// Decoding an image may take ~12 bytes per pixel (480 MB at the 40 MP
	// limit): uploads are inspected one at a time, the others wait.
	select {
	case s.inspecting <- struct{}{}:
		defer func() { <-s.inspecting }()
	case <-ctx.Done():
		return nil, protocol.Unavailable(fmt.Errorf("upload: %w", ctx.Err()))
	}
	tmp, err := os.CreateTemp("", "im-upload-*")
	if err != nil {
		return nil, protocol.Internal(fmt.Errorf("upload: %w", err))
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	res, err := media.Inspect(io.TeeReader(r, tmp), s.media)
	if err != nil {
		return nil, uploadErr(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, protocol.Internal(fmt.Errorf("upload: %w", err))
	}
	f := &store.File{ID: s.newID(), RoomID: roomID, UploaderID: uid, Name: fileName(name),
		Size: res.Size, ContentType: res.ContentType, CreatedAt: s.nowUTC()}
	f.Key = "files/" + roomID + "/" + f.ID
	if err := s.blobs.Put(ctx, f.Key, tmp, res.Size, res.ContentType); err != nil {
		return nil, protocol.Unavailable(fmt.Errorf("upload: %w", err))
	}
	if img := res.Image; img != nil {
		f.Width, f.Height = img.Width, img.Height
		f.ThumbKey, f.ThumbType = f.Key+".thumb", img.ThumbType
		if err := s.blobs.Put(ctx, f.ThumbKey, strings.NewReader(string(img.Thumb)), int64(len(img.Thumb)), img.ThumbType); err != nil {
			s.deleteBlobs(ctx, f)
			return nil, protocol.Unavailable(fmt.Errorf("upload: thumbnail: %w", err))
		}
	}
	if err := s.st.CreateFile(ctx, f); err != nil {
		s.deleteBlobs(ctx, f)
		return nil, storeErr("upload", err)
	}
	return f, nil
}

// uploadErr maps what media.Inspect refused to the contract's codes.
func uploadErr(err error) error {
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return &protocol.Error{Code: protocol.CodePayloadTooLarge, Message: "the file is larger than the upload limit"}
	case errors.Is(err, media.ErrImageTooLarge):
		return &protocol.Error{Code: protocol.CodePayloadTooLarge, Message: "the image has too many pixels"}
	case errors.Is(err, media.ErrNotAllowed):
		return protocol.Errorf(protocol.CodeInvalidArgument, "this type of file is not allowed (%s)",
			strings.TrimPrefix(err.Error(), media.ErrNotAllowed.Error()+": "))
	case errors.Is(err, media.ErrUndecodable):
		return protocol.Errorf(protocol.CodeInvalidArgument, "the image cannot be read")
	}
	return protocol.Unavailable(fmt.Errorf("upload: %w", err))
}

// fileName keeps the last element of a client's file name, without
// control characters, at most MaxFileName bytes; "file" when nothing is
// left.
func fileName(n string) string {
	n = strings.ToValidUTF8(path.Base(strings.ReplaceAll(n, "\\", "/")), "")
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, n)
	for len(n) > MaxFileName {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	if n == "" || n == "." || n == "/" {
		return "file"
	}
	return n
}

// OpenFile returns a file's bytes (or its thumbnail's) for uid, who must be
// a member of its room now. Anyone else, a recalled message's file and an
// unknown id all get not_found.
func (s *Service) OpenFile(ctx context.Context, uid, fileID string, thumb bool) (io.ReadCloser, *store.File, error) {
	if s.blobs == nil {
		return nil, nil, errNoBlobs
	}
	notFound := protocol.Errorf(protocol.CodeNotFound, "no such file")
	if protocol.ValidID("file_id", fileID) != nil {
		return nil, nil, notFound
	}
	f, err := s.st.FileByID(ctx, fileID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.Deleted) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, storeErr("file", err)
	}
	if _, err := s.st.Member(ctx, f.RoomID, uid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, notFound
		}
		return nil, nil, storeErr("file", err)
	}
	key := f.Key
	if thumb {
		if f.ThumbKey == "" {
			return nil, nil, notFound
		}
		key = f.ThumbKey
	}
	rc, _, err := s.blobs.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, protocol.Unavailable(fmt.Errorf("file: %w", err))
	}
	return rc, f, nil
}

func (s *Service) deleteBlobs(ctx context.Context, f *store.File) {
	for _, k := range []string{f.Key, f.ThumbKey} {
		if k == "" {
			continue
		}
		if err := s.blobs.Delete(context.WithoutCancel(ctx), k); err != nil {
			s.log.Warn("delete blob", zap.String("key", k), zap.Error(err))
		}
	}
}

// sweepOrphans deletes up to limit files uploaded more than OrphanAge ago
// and never sent, bytes first; it returns how many it deleted.
func (s *Service) sweepOrphans(ctx context.Context, limit int) (int, error) {
	if s.blobs == nil {
		return 0, nil
	}
	fs, err := s.st.OrphanFiles(ctx, s.now().Add(-OrphanAge), limit)
	if err != nil {
		return 0, err
	}
	for i := range fs {
		s.deleteBlobs(ctx, &fs[i])
		if err := s.st.DeleteFile(ctx, fs[i].ID); err != nil {
			return i, err
		}
	}
	return len(fs), nil
}

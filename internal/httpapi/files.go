package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// uploadFile takes a multipart/form-data body whose part "file" is the
// file; the body may exceed the upload limit by the form's overhead only.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.svc.MaxUpload()+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "the body must be multipart/form-data with a part named file"))
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.writeError(w, r, &protocol.Error{Code: protocol.CodePayloadTooLarge, Message: "the file is larger than the upload limit"})
				return
			}
			s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "no part named file in the form"))
			return
		}
		if part.FormName() != "file" {
			_ = part.Close()
			continue
		}
		f, err := s.svc.Upload(r.Context(), userID(r), chi.URLParam(r, "id"), part.FileName(), part)
		_ = part.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				err = &protocol.Error{Code: protocol.CodePayloadTooLarge, Message: "the file is larger than the upload limit"}
			}
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, service.AttachmentOf(f))
		return
	}
}

func (s *Server) downloadFile(w http.ResponseWriter, r *http.Request)  { s.serveFile(w, r, false) }
func (s *Server) downloadThumb(w http.ResponseWriter, r *http.Request) { s.serveFile(w, r, true) }

// serveFile streams a file to a member of its room. The content type is
// the one sniffed at upload; the browser is told not to sniff again, and
// anything but an image is a download, never rendered in the API's origin.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, thumb bool) {
	rc, f, err := s.svc.OpenFile(r.Context(), userID(r), chi.URLParam(r, "id"), thumb)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	ct, size := f.ContentType, f.Size
	if thumb {
		ct, size = f.ThumbType, -1
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disp := "attachment"
	if mt, _, _ := mime.ParseMediaType(ct); thumb || mt == "image/png" || mt == "image/jpeg" || mt == "image/gif" || mt == "image/webp" {
		disp = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": f.Name}))
	if size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc)
}

package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// KindImage is Config.Kind for image messages.
const KindImage = "image"

// seedFiles gives every publisher enough image file records for its share
// of the run's total messages (and the retries): a file is sent once.
func (r *runner) seedFiles(ctx context.Context, total float64) error {
	if r.seeder == nil {
		return fmt.Errorf("-kind image: no store to seed the files in")
	}
	per := int(math.Ceil(total/float64(len(r.pubs))*1.2)) + 20
	t0 := time.Now()
	for _, c := range r.pubs {
		ids, err := r.seeder.Files(ctx, c.room.ID, c.user.ID, per)
		if err != nil {
			return fmt.Errorf("seed files: %w", err)
		}
		c.files = ids
	}
	r.logf("seeded %d image files in %.1fs", per*len(r.pubs), time.Since(t0).Seconds())
	return nil
}

// Files records n image files uploaded by uploader to roomID (as after an
// upload of a 1280×960 JPEG with its thumbnail) and returns their ids.
func (s *Seeder) Files(ctx context.Context, roomID, uploader string, n int) ([]string, error) {
	st := s.mem
	if st == nil {
		st = s.st
	}
	ids := make([]string, n)
	for i := range ids {
		id := s.newID()
		f := &store.File{ID: id, RoomID: roomID, UploaderID: uploader, Name: "IMG_" + id[len(id)-6:] + ".jpg",
			Size: 245_760, ContentType: "image/jpeg", Width: 1280, Height: 960,
			Key: "files/" + roomID + "/" + id, ThumbKey: "files/" + roomID + "/" + id + ".thumb",
			ThumbType: "image/jpeg", CreatedAt: s.created}
		if err := st.CreateFile(ctx, f); err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// appendSendImage is appendSend for an image message with file id.
func appendSendImage(b, room, body, cmid, file []byte) []byte {
	b = appendSend(b, room, body, cmid)
	b = b[:len(b)-1] // the closing brace
	b = append(b, `,"kind":"image","file_id":"`...)
	b = append(b, file...)
	return append(b, `"}`...)
}

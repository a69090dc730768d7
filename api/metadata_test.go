package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/scrub/scrubtest"
	"github.com/unionportal/unionportal/workflow"
)

// TestEvidenceLeavesWithoutMetadata: a photo with a GPS position is reported at upload,
// reaches the ILO without its EXIF, is recorded in the manifest with both hashes, and
// downloads without its metadata for anyone outside the uploader's organization and
// the secretariat (ADR 0028).
func TestEvidenceLeavesWithoutMetadata(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		outbox := t.TempDir()
		h := newDispatchHarness(t, db, dispatch.Outbox{Dir: outbox})
		w := h.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		photo, cleaned := scrubtest.JPEG()
		var v workflow.SubmissionView
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
			"kind": "follow_up", "title": "Photos", "body": "The picket.", "language": "en"}).json(t, &v)

		var att workflow.Attachment
		w.editorA1.upload(201, v.ID, "picket.jpg", "image/jpeg", photo).json(t, &att)
		if att.CleanStatus != workflow.CleanCleanedOnSend || !strings.Contains(strings.Join(att.MetadataFound, "; "), scrubtest.GPS) {
			t.Fatalf("upload: clean_status %q, metadata_found %q", att.CleanStatus, att.MetadataFound)
		}
		var listed struct{ Items []workflow.Attachment }
		w.editorA1.must(200, "GET", subPath(v.ID, "/attachments"), nil).json(t, &listed)
		if len(listed.Items) != 1 || len(listed.Items[0].MetadataFound) == 0 {
			t.Fatalf("list %+v", listed.Items)
		}

		// A reviewer of the affiliate sees every submission but is neither in the
		// uploader's organization nor in the secretariat.
		w.adminA.must(201, "POST", "/api/v1/tenants/alpha/users", map[string]any{"email": "outsider@alpha.test", "name": "O",
			"password": testPassword, "organization_id": w.orgA2.ID, "roles": []string{"reviewer"}})
		outsider := h.anonymous()
		outsider.loginAs("outsider@alpha.test", testPassword)

		t.Run("downloads", func(t *testing.T) {
			content := "/api/v1/tenants/alpha/attachments/" + att.ID + "/content"
			if got := w.editorA1.must(200, "GET", content, nil).Body.Bytes(); !bytes.Equal(got, photo) {
				t.Error("the uploader's organization does not get the original")
			}
			if got := w.editorA1.must(200, "GET", content+"?original=0", nil).Body.Bytes(); !bytes.Equal(got, cleaned) {
				t.Error("?original=0 does not give the cleaned copy")
			}
			if got := outsider.must(200, "GET", content, nil).Body.Bytes(); !bytes.Equal(got, cleaned) {
				t.Error("an outsider gets the original")
			}
			outsider.must(403, "GET", content+"?original=1", nil)
			r := outsider.doWithHeaders("GET", content, nil, map[string]string{"Range": "bytes=0-9"})
			if r.Code != 206 || !bytes.Equal(r.Body.Bytes(), cleaned[:10]) {
				t.Errorf("range of the cleaned copy: %d %q", r.Code, r.Body.Bytes())
			}
		})

		t.Run("a file that cannot be cleaned is not receivable", func(t *testing.T) {
			var bad workflow.Attachment
			w.editorA1.upload(201, v.ID, "broken.png", "image/png", pngFile).json(t, &bad)
			if bad.CleanStatus != workflow.CleanCannotClean {
				t.Fatalf("clean_status %q", bad.CleanStatus)
			}
			var rc workflow.Receivability
			w.reviewerA.must(200, "GET", subPath(v.ID, "/receivability"), nil).json(t, &rc)
			if rc.Ready || len(rc.Failed) != 1 || rc.Failed[0].Field != "attachments" || !strings.Contains(rc.Failed[0].Message, "broken.png: "+workflow.CannotCleanMessage) {
				t.Errorf("receivability %+v", rc)
			}
			w.editorA1.must(204, "DELETE", "/api/v1/tenants/alpha/attachments/"+bad.ID, nil)
		})

		w.editorA1.must(200, "POST", subPath(v.ID, "/transitions"), map[string]string{"action": "submit"})
		d := approveAndWait(t, w, v.ID, workflow.Dispatched)

		sent := outboxAttachments(t, outbox)["picket.jpg"]
		if !bytes.Equal(sent, cleaned) {
			t.Errorf("the e-mail's photo is not the cleaned copy (%d bytes, want %d)", len(sent), len(cleaned))
		}
		if bytes.Contains(sent, []byte("Exif")) || bytes.Contains(sent, []byte(scrubtest.Serial)) {
			t.Error("the e-mail's photo carries EXIF")
		}
		var manifest dispatch.Manifest
		w.reviewerA.must(200, "GET", "/api/v1/tenants/alpha/dispatches/"+d.ID+"/manifest.json", nil).json(t, &manifest)
		sum := sha256.Sum256(cleaned)
		if len(manifest.Files) != 2 || manifest.Files[1].SHA256 != hex.EncodeToString(sum[:]) ||
			manifest.Files[1].OriginalSHA256 != att.SHA256 || !manifest.Files[1].Cleaned || manifest.Files[1].Size != int64(len(cleaned)) {
			t.Errorf("manifest files %+v", manifest.Files)
		}
		original := sha256.Sum256(photo)
		if att.SHA256 != hex.EncodeToString(original[:]) {
			t.Error("the recorded hash is not the upload's")
		}
	})
}

// outboxAttachments reads the dispatched e-mail of an outbox and returns its
// attachments by file name.
func outboxAttachments(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), "<dispatch-") {
			continue
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		collectParts(t, m.Header.Get("Content-Type"), m.Body, out)
	}
	return out
}

func collectParts(t *testing.T, contentType string, body io.Reader, out map[string][]byte) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if name := p.FileName(); name != "" {
			var r io.Reader = p
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				r = base64.NewDecoder(base64.StdEncoding, p)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			out[name] = b
			continue
		}
		collectParts(t, p.Header.Get("Content-Type"), p, out)
	}
}

package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3PartSize is the part size of multipart uploads: each upload holds one part in
// memory while it streams (partBuffers). It is S3's least part size: with 4 uploads
// at once, 8 MiB parts kept the portal's memory 70 MiB above idle, 5 MiB parts 46 MiB,
// and were no slower (issue 17, P5 and P6). minio-go's own choice for a stream of
// unknown size would allocate hundreds of MiB per upload (minio-go issues 848 and 1473).
const S3PartSize = 5 << 20

// S3Config locates a bucket.
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	UseTLS    bool
}

// S3 keeps objects in an S3-compatible bucket through minio-go.
type S3 struct {
	client *minio.Client
	bucket string
}

var _ Store = (*S3)(nil)

// NewS3 connects and creates the bucket if it is missing.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
		Region: cfg.Region,
		// A few quick retries, so a request fails within seconds when S3 is down
		// rather than after minio-go's default ten.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, err
	}
	s := &S3{client: client, bucket: cfg.Bucket}
	exists, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, mapS3(err)
	}
	if !exists {
		err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		// Processes starting together on a new installation all find the bucket missing:
		// the one that lost the race to create it goes on with it.
		var resp minio.ErrorResponse
		if errors.As(err, &resp) && resp.Code == "BucketAlreadyOwnedByYou" {
			err = nil
		}
		if err != nil {
			return nil, mapS3(err)
		}
	}
	return s, nil
}

// Put uploads r. A failed multipart upload is aborted by minio-go, so nothing remains.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	buf := partBuffers.get()
	defer partBuffers.put(buf)
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF { // it fits in one part: one PUT
		if size >= 0 && int64(n) != size {
			return fmt.Errorf("storage: %s: %d bytes read, %d announced", key, n, size)
		}
		_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectOptions{ContentType: contentType})
		return mapS3(err)
	}
	if err != nil {
		return err // the reader's failure, as it is (a limit, a slow client)
	}
	// A multipart upload through minio-go's Core, one part at a time from the one
	// buffer; minio-go's PutObject would allocate a buffer of its own for every upload.
	core := minio.Core{Client: s.client}
	id, err := core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return mapS3(err)
	}
	completed := false
	defer func() {
		if !completed {
			_ = core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	var total int64
	for number := 1; n > 0; number++ {
		part, err := core.PutObjectPart(ctx, s.bucket, key, id, number, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return mapS3(err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: number, ETag: part.ETag})
		total += int64(n)
		n, err = io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return err
		}
	}
	if size >= 0 && total != size {
		return fmt.Errorf("storage: %s: %d bytes read, %d announced", key, total, size)
	}
	if _, err := core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return mapS3(err)
	}
	completed = true
	return nil
}

// partBuffers keeps the part buffers of finished uploads for the next ones: an upload
// to S3 holds one S3PartSize buffer while it streams, and the uploads at once are few
// (UNIONPORTAL_MAX_CONCURRENT_UPLOADS), so the same few buffers serve them all instead
// of one new one per upload for the collector to reclaim (issue 17, P6). At most 8 are
// kept (64 MiB); a burst beyond that allocates, and its extra buffers are collected.
var partBuffers = bufferPool{free: make(chan []byte, 8)}

type bufferPool struct{ free chan []byte }

func (p bufferPool) get() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		return make([]byte, S3PartSize)
	}
}

func (p bufferPool) put(b []byte) {
	select {
	case p.free <- b:
	default:
	}
}

type s3Object struct {
	*minio.Object
	info Info
}

func (o s3Object) Info() Info { return o.info }

// Open opens key; reads and seeks turn into ranged GETs.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, mapS3(err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, mapS3(err)
	}
	return s3Object{Object: obj, info: Info{Key: key, Size: st.Size, LastModified: st.LastModified}}, nil
}

// Stat describes key.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, err
	}
	st, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, mapS3(err)
	}
	return Info{Key: key, Size: st.Size, LastModified: st.LastModified}, nil
}

// Delete removes key.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return mapS3(s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}))
}

// List lists the objects under prefix.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return mapS3(obj.Err)
		}
		if err := fn(Info{Key: obj.Key, Size: obj.Size, LastModified: obj.LastModified}); err != nil {
			return err
		}
	}
	return nil
}

// PresignGet signs a GET that downloads key as an attachment named fileName.
func (s *S3) PresignGet(ctx context.Context, key string, expiry time.Duration, fileName string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	params := url.Values{}
	params.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fileName}))
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, expiry, params)
	if err != nil {
		return "", mapS3(err)
	}
	return u.String(), nil
}

// s3CheckTimeout bounds Check, whatever the caller's deadline: minio-go retries.
const s3CheckTimeout = time.Second

// Check asks whether the bucket exists, within s3CheckTimeout.
func (s *S3) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s3CheckTimeout)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	err = mapS3(err)
	switch {
	case err == nil && !ok:
		return notReady("the bucket does not exist", fmt.Errorf("bucket %s does not exist", s.bucket))
	case err == nil:
		return nil
	case errors.Is(err, ErrNotExist):
		return notReady("the bucket does not exist", err)
	case errors.Is(err, ErrPermission):
		return notReady("the S3 server refuses the credentials", err)
	case ctx.Err() != nil:
		return notReady("the S3 server did not answer in time", err)
	}
	return notReady("the S3 server is unreachable", err)
}

// mapS3 turns S3 error codes into the package's errors.
func mapS3(err error) error {
	if err == nil {
		return nil
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case minio.NoSuchKey, "NoSuchBucket", "NotFound":
			return fmt.Errorf("%w: %v", ErrNotExist, err)
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return fmt.Errorf("%w: %v", ErrPermission, err)
		case "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded":
			return fmt.Errorf("%w: %v", ErrFull, err)
		}
	}
	return err
}

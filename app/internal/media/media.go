// Package media is the storage side of course materials: presigned S3 POSTs
// for uploads straight from the browser, HEAD checks before an upload is
// recorded, and CloudFront signed URLs for downloads under /media/*.
//
// S3 POST policies: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
// CloudFront signed URLs: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-signed-urls.html
package media

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Options configure a Service.
type Options struct {
	S3     *s3.Client // signs the POST policies and answers HEAD
	Bucket string     // the uploads bucket
	// UploadOrigin is the scheme://host the presigned POSTs go to
	// (https://<bucket>.s3.<region>.amazonaws.com): the page's
	// Content-Security-Policy must let it connect there. Required.
	UploadOrigin string
	// BaseURL is the site's origin (https://d111111abcdef8.cloudfront.net
	// or the custom domain): a material's URL is BaseURL + "/" + key.
	BaseURL string
	// KeyPairID is the CloudFront public key's ID; SigningKey its private key.
	KeyPairID  string
	SigningKey crypto.Signer
	// UploadTTL is how long a presigned POST stays valid (default 5m);
	// URLTTL how long a signed download URL does (default 10m).
	UploadTTL time.Duration
	URLTTL    time.Duration
	Now       func() time.Time
}

// Service issues uploads and download URLs.
type Service struct {
	o       Options
	presign *s3.PresignClient
	signer  *sign.URLSigner
}

// New checks o and builds the service.
func New(o Options) (*Service, error) {
	var errs []error
	if o.S3 == nil {
		errs = append(errs, errors.New("media: S3 client is required"))
	}
	if o.Bucket == "" {
		errs = append(errs, errors.New("media: bucket is required"))
	}
	if u, err := url.Parse(o.BaseURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || strings.Trim(u.Path, "/") != "" {
		errs = append(errs, fmt.Errorf("media: base URL %q must be scheme://host", o.BaseURL))
	}
	if u, err := url.Parse(o.UploadOrigin); err != nil || u.Host == "" || u.Path != "" {
		errs = append(errs, fmt.Errorf("media: upload origin %q must be scheme://host", o.UploadOrigin))
	}
	if o.KeyPairID == "" || o.SigningKey == nil {
		errs = append(errs, errors.New("media: CloudFront key pair ID and signing key are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.UploadTTL <= 0 {
		o.UploadTTL = 5 * time.Minute
	}
	if o.URLTTL <= 0 {
		o.URLTTL = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o, presign: s3.NewPresignClient(o.S3), signer: sign.NewURLSigner(o.KeyPairID, o.SigningKey)}, nil
}

// UploadOrigin is where browsers post uploads.
func (s *Service) UploadOrigin() string { return s.o.UploadOrigin }

// UploadTTL is how long an issued upload form stays valid.
func (s *Service) UploadTTL() time.Duration { return s.o.UploadTTL }

// PresignUpload returns the form that lets a browser POST exactly this
// file to exactly u.Key until the policy expires: the key, the content type
// and the size (content-length-range) are conditions of the signed policy,
// so S3 refuses any other.
func (s *Service) PresignUpload(ctx context.Context, u surge.Upload) (surge.UploadForm, error) {
	disposition := ContentDisposition(u.Filename)
	req, err := s.presign.PresignPostObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.o.Bucket),
		Key:    aws.String(u.Key),
	}, func(po *s3.PresignPostOptions) {
		po.Expires = s.o.UploadTTL
		po.Conditions = []any{
			map[string]string{"key": u.Key},
			map[string]string{"Content-Type": u.ContentType},
			map[string]string{"Content-Disposition": disposition},
			[]any{"content-length-range", u.Size, u.Size},
		}
	})
	if err != nil {
		return surge.UploadForm{}, fmt.Errorf("presigning upload: %w", err)
	}
	fields := make(map[string]string, len(req.Values)+2)
	for k, v := range req.Values {
		fields[k] = v
	}
	fields["Content-Type"] = u.ContentType
	fields["Content-Disposition"] = disposition
	return surge.UploadForm{URL: req.URL, Fields: fields}, nil
}

// ContentDisposition makes browsers save the file under its name (RFC 6266,
// with the RFC 8187 UTF-8 form for names that are not plain ASCII).
func ContentDisposition(filename string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": filename}); v != "" {
		return v
	}
	return "attachment"
}

// Head reports an object's size and type; found is false when S3 has no
// such object.
func (s *Service) Head(ctx context.Context, key string) (surge.ObjectInfo, bool, error) {
	out, err := s.o.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key)})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		var ae smithy.APIError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound ||
			errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey") {
			return surge.ObjectInfo{}, false, nil
		}
		return surge.ObjectInfo{}, false, fmt.Errorf("reading object %s: %w", key, err)
	}
	return surge.ObjectInfo{Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType), ETag: aws.ToString(out.ETag)}, true, nil
}

// Copy copies the object at src to dst with its type and disposition, only
// if src still has the ETag the caller checked (else S3 answers 412 and
// nothing is copied).
func (s *Service) Copy(ctx context.Context, src, etag, dst string) error {
	_, err := s.o.S3.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:            aws.String(s.o.Bucket),
		Key:               aws.String(dst),
		CopySource:        aws.String(url.PathEscape(s.o.Bucket) + "/" + (&url.URL{Path: src}).EscapedPath()),
		CopySourceIfMatch: aws.String(etag),
		MetadataDirective: types.MetadataDirectiveCopy,
	})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
			return surge.Errorf(surge.CodeConflict, "the file changed while it was being recorded: confirm again")
		}
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return nil
}

// URL returns a CloudFront signed URL (canned policy) for the object at
// key, valid until the returned time.
func (s *Service) URL(key string) (string, time.Time, error) {
	expires := s.o.Now().Add(s.o.URLTTL).Truncate(time.Second)
	u, err := s.signer.Sign(s.o.BaseURL+"/"+(&url.URL{Path: key}).EscapedPath(), expires)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing URL: %w", err)
	}
	return u, expires, nil
}

// ParseSigningKey reads an RSA private key in PEM, PKCS #1 ("RSA PRIVATE
// KEY") or PKCS #8 ("PRIVATE KEY"). Errors never contain the key.
func ParseSigningKey(pemText string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if block == nil {
		return nil, errors.New("signing key: no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("signing key: not a PKCS #1 RSA key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("signing key: not a PKCS #8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("signing key: CloudFront signs with RSA keys")
		}
		return rk, nil
	}
	return nil, fmt.Errorf("signing key: unexpected PEM block %q", block.Type)
}

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

// OpenSSL's function-like macros, as functions Swift can call.
static inline long swiftlet_ssl_ctx_set_mode(SSL_CTX *context, long mode) { return SSL_CTX_set_mode(context, mode); }
static inline int swiftlet_ssl_ctx_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}
static inline int swiftlet_ssl_ctx_set_max_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_max_proto_version(context, version);
}
static inline long swiftlet_bio_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
static inline unsigned long swiftlet_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253; }
static inline uint64_t swiftlet_ssl_op_ignore_unexpected_eof(void) { return SSL_OP_IGNORE_UNEXPECTED_EOF; }
static inline uint64_t swiftlet_ssl_op_enable_ktls(void) { return SSL_OP_ENABLE_KTLS; }
static inline long swiftlet_bio_get_ktls_send(BIO *bio) { return BIO_get_ktls_send(bio); }

#include <openssl/x509v3.h>
#include <string.h>

// A self-signed P-256 certificate (also its own CA) for `subject_alt_names` ("DNS:localhost,IP:127.0.0.1"),
// valid for `days`, as PEM text for the key and the certificate (the caller frees both with free()).
// Returns 1 on success, 0 when OpenSSL fails (its error queue says why).
static inline int swiftlet_make_self_signed(const char *subject_alt_names, int days, char **key_pem, char **certificate_pem) {
    int ok = 0;
    EVP_PKEY *key = NULL;
    X509 *certificate = NULL;
    BIO *key_bio = NULL, *certificate_bio = NULL;
    EVP_PKEY_CTX *key_context = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!key_context || EVP_PKEY_keygen_init(key_context) <= 0 || EVP_PKEY_CTX_set_group_name(key_context, "P-256") <= 0
        || EVP_PKEY_generate(key_context, &key) <= 0) goto done;
    certificate = X509_new();
    if (!certificate || !X509_set_version(certificate, 2)) goto done;
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) goto done;
    serial[0] &= 0x7f;
    BIGNUM *number = BN_bin2bn(serial, sizeof serial, NULL);
    if (!number || !BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate))) { BN_free(number); goto done; }
    BN_free(number);
    if (!X509_gmtime_adj(X509_getm_notBefore(certificate), -3600)
        || !X509_gmtime_adj(X509_getm_notAfter(certificate), (long)days * 86400)) goto done;
    X509_NAME *name = X509_get_subject_name(certificate);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Swiftlet development broker", -1, -1, 0)
        || !X509_set_issuer_name(certificate, name) || !X509_set_pubkey(certificate, key)) goto done;
    X509V3_CTX extension_context;
    X509V3_set_ctx(&extension_context, certificate, certificate, NULL, NULL, 0);
    const struct { int nid; const char *value; } extensions[] = {
        { NID_subject_alt_name, subject_alt_names },
        { NID_basic_constraints, "critical,CA:TRUE" },
        { NID_key_usage, "critical,digitalSignature,keyCertSign" },
        { NID_subject_key_identifier, "hash" },
    };
    for (size_t index = 0; index < sizeof extensions / sizeof extensions[0]; index++) {
        X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &extension_context, extensions[index].nid, extensions[index].value);
        if (!extension) goto done;
        int added = X509_add_ext(certificate, extension, -1);
        X509_EXTENSION_free(extension);
        if (!added) goto done;
    }
    if (!X509_sign(certificate, key, EVP_sha256())) goto done;
    key_bio = BIO_new(BIO_s_mem());
    certificate_bio = BIO_new(BIO_s_mem());
    if (!key_bio || !certificate_bio || !PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL)
        || !PEM_write_bio_X509(certificate_bio, certificate)) goto done;
    char *data = NULL;
    long length = BIO_get_mem_data(key_bio, &data);
    *key_pem = strndup(data, (size_t)length);
    length = BIO_get_mem_data(certificate_bio, &data);
    *certificate_pem = strndup(data, (size_t)length);
    ok = *key_pem != NULL && *certificate_pem != NULL;
done:
    BIO_free(key_bio);
    BIO_free(certificate_bio);
    X509_free(certificate);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(key_context);
    return ok;
}

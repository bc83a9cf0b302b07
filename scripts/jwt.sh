# scripts/jwt.sh
#	Mint HS256 JWTs with openssl, for the demo and the scripts; sourced.
#
# bb_jwt_hs256 SECRET PAYLOAD  prints header.payload.signature, where
#                              PAYLOAD is the claims' JSON text.

bb_b64url() {
	openssl base64 -A | tr '+/' '-_' | tr -d '='
}

bb_jwt_hs256() {
	local secret=$1 payload=$2 head body sig
	head=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | bb_b64url)
	body=$(printf '%s' "$payload" | bb_b64url)
	sig=$(printf '%s.%s' "$head" "$body" |
		openssl dgst -sha256 -hmac "$secret" -binary | bb_b64url)
	printf '%s.%s.%s\n' "$head" "$body" "$sig"
}

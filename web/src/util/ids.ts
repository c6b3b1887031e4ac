//! Client-generated idempotency keys for sends.

/** A random id; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
export function newClientId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

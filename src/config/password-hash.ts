/*
 * The htpasswd hash formats Portico checks (Traefik's: bcrypt, apr1/md5-crypt
 * and {SHA}), recognised without checking anything: the basicAuth and
 * digestAuth middlewares build verifiers from them (middlewares/htpasswd.ts),
 * and translators that read users from elsewhere (an ingress-nginx auth
 * Secret) refuse what no middleware could check, at translation time.
 */
export const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
export const MD5_CRYPT_HASH = /^\$(apr1|1)\$([^$]{0,8})\$([./A-Za-z0-9]{22})$/;
export const SHA1_HASH = /^\{SHA\}([A-Za-z0-9+/]{27}=)$/;

export type PasswordHashKind = 'bcrypt' | 'apr1' | 'md5' | 'sha1';

/** The format of an htpasswd hash, or undefined when Portico cannot check it. */
export function passwordHashKind(hash: string): PasswordHashKind | undefined {
  if (BCRYPT_HASH.test(hash)) return 'bcrypt';
  const md5 = MD5_CRYPT_HASH.exec(hash);
  if (md5 !== null) return md5[1] === 'apr1' ? 'apr1' : 'md5';
  if (SHA1_HASH.test(hash)) return 'sha1';
  return undefined;
}

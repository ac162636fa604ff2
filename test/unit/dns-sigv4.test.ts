/*
 * AWS Signature Version 4 as the route53 DNS provider signs (issue 13 §3),
 * checked against the worked example of AWS's documentation (IAM ListUsers,
 * 2015-08-30), so the Route 53 fake's signature check is not circular.
 */
import { describe, expect, it } from 'vitest';
import { sigV4 } from '../../src/tls/acme/dns/route53.js';

describe('sigV4', () => {
  it("signs AWS's documented example request to the same signature", () => {
    const headers = sigV4(
      {
        method: 'GET',
        url: new URL('https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08'),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: '',
      },
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      'us-east-1',
      'iam',
      new Date('2015-08-30T12:36:00Z'),
    );
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });

  it('signs the session token when there is one', () => {
    const headers = sigV4(
      {
        method: 'GET',
        url: new URL('https://route53.amazonaws.com/2013-04-01/hostedzone'),
        headers: {},
        body: '',
      },
      { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'session' },
      'us-east-1',
      'route53',
    );
    expect(headers['x-amz-security-token']).toBe('session');
    expect(headers.authorization).toMatch(/SignedHeaders=host;x-amz-date;x-amz-security-token,/);
  });
});

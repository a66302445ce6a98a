// The status bar text, tooltip and click action for every state.
import './setup.ts';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeMarkdown, presentStatus } from '../../src/vscode/statusBar.ts';
import { formatRemaining } from '../../src/vscode/format.ts';
import type { ServiceStatus } from '../../src/app/tokenService.ts';
import { redactor } from '../../src/core/redact.ts';

const NOW = 1_700_000_000_000;
const ISSUER = 'https://login.example.com/realms/dev';
const alice = { id: 'sub-1', label: 'alice@example.com' };
const mine = { at: NOW - 30_000, byThisProcess: true, writer: { pid: process.pid, id: 'a', label: 'window' } };
const theirs = { at: NOW - 30_000, byThisProcess: false, writer: { pid: 4242, id: 'b', label: 'window' } };
const present = (status: ServiceStatus, others?: { label: string; state: string }[]) =>
  presentStatus({ status: { issuer: ISSUER, clientId: 'c', ...status }, others, formatTime: () => '12:34:56' }, NOW);

describe('status bar', () => {
  test('signed out: "Token Relay: Sign in", click signs in', () => {
    const p = present({ state: 'signed-out' });
    assert.equal(p.text, '$(account) Token Relay: Sign in');
    assert.equal(p.command, 'tokenrelay.signIn');
    assert.equal(p.background, undefined);
    assert.match(p.tooltip, /signed out/);
    assert.match(p.tooltip, /\[Sign In\]\(command:tokenrelay\.signIn\)/);
    assert.equal(p.ticking, false);
  });

  test('signed in: account label, tooltip with account, issuer, countdown and who refreshed', () => {
    const p = present({ state: 'signed-in', account: alice, expiresAt: NOW + 4 * 60_000 + 7_000, lastRefresh: mine });
    assert.equal(p.text, '$(key) alice@example.com');
    assert.equal(p.command, 'tokenrelay.statusMenu');
    assert.match(p.tooltip, /Account: alice@example\.com/);
    assert.match(p.tooltip, /Issuer: https:\/\/login\.example\.com\/realms\/dev/);
    assert.match(p.tooltip, /Access token expires in 4:07/);
    assert.match(p.tooltip, /Last refresh: 12:34:56 by this window/);
    assert.equal(p.ticking, true);
  });

  test('a refresh by another process names its pid, in the words of `tokenrelay status`', () => {
    const p = present({ state: 'signed-in', account: alice, expiresAt: NOW + 59_000, lastRefresh: theirs });
    assert.match(p.tooltip, /by another process \(pid 4242\)/);
    assert.doesNotMatch(p.tooltip, /another window/);
    assert.match(p.tooltip, /expires in 0:59/);
  });

  test('refreshing shows a spinner with the label', () => {
    assert.equal(present({ state: 'refreshing', account: alice, expiresAt: NOW + 1000 }).text, '$(sync~spin) alice@example.com');
  });

  test('needs sign-in: warning text and background', () => {
    const p = present({ state: 'needs-sign-in', account: alice, error: 'The identity provider no longer accepts the stored sign-in (grant revoked).' });
    assert.equal(p.text, '$(warning) Token Relay: Sign in again');
    assert.equal(p.background, 'warning');
    assert.match(p.tooltip, /no longer accepts the stored sign-in/);
    assert.doesNotMatch(p.tooltip, /expires in/);
  });

  test('offline: cloud icon with the label, and the reason', () => {
    const p = present({ state: 'offline', account: alice, expiresAt: NOW + 30_000, error: 'The identity provider could not be reached (ECONNREFUSED).' });
    assert.equal(p.text, '$(cloud-offline) alice@example.com');
    assert.match(p.tooltip, /unreachable, retrying/);
    assert.match(p.tooltip, /ECONNREFUSED/);
  });

  test('configuration problem: error text, tooltip names the problem and links Open Settings', () => {
    const p = present({ state: 'error', errorCode: 'config', error: 'tokenrelay.clientId is not set. Set it to the client id registered at your identity provider.' });
    assert.equal(p.text, '$(error) Token Relay');
    assert.equal(p.background, 'error');
    assert.match(p.tooltip, /configuration problem/);
    assert.match(p.tooltip, /tokenrelay\.clientId is not set/);
    assert.match(p.tooltip, /\[Open Settings\]\(command:tokenrelay\.openSettings\)/);
  });

  test('other accounts are listed', () => {
    const p = present({ state: 'signed-in', account: alice, expiresAt: NOW + 60_000 }, [{ label: 'bob', state: 'needs-sign-in' }]);
    assert.match(p.tooltip, /Other accounts: bob \(sign-in needed\)/);
  });

  test('an expired token says so', () => {
    assert.match(present({ state: 'offline', account: alice, expiresAt: NOW - 1 }).tooltip, /Access token expired/);
  });

  test('markdown in labels is escaped', () => {
    assert.equal(escapeMarkdown('[x](command:evil)'), '\\[x\\]\\(command:evil\\)');
    const p = present({ state: 'signed-in', account: { id: '1', label: '[x](command:evil)' }, expiresAt: NOW + 1000 });
    assert.doesNotMatch(p.tooltip, /\[x\]\(command:evil\)/);
  });

  test('m:ss formatting', () => {
    assert.equal(formatRemaining(0), '0:00');
    assert.equal(formatRemaining(61_000), '1:01');
    assert.equal(formatRemaining(3_600_000), '60:00');
    assert.equal(formatRemaining(-5), '0:00');
  });

  test('an error quoting a token this window knows is shown redacted in the tooltip', () => {
    const token = 'at-short-7Hq2'; // too short for any pattern: only the remembered value catches it
    redactor.remember(token);
    const p = present({ state: 'offline', account: alice, error: `The identity provider could not be reached (HTTP 429 slow down ${token}).` });
    assert.ok(!p.tooltip.includes(token), p.tooltip);
    assert.match(p.tooltip, /slow down \\\[redacted\\\]/);
  });
});

// Test-only probe: turns the tokenrelay provider and API into JSON files the e2e tests can read.
const vscode = require('vscode');
const fs = require('node:fs');
const path = require('node:path');

const PROVIDER = 'tokenrelay';
const SCOPES = ['openid', 'profile', 'offline_access'];
const EXTENSION_ID = 'tokenrelay.tokenrelay';

// Read on every call so a test can change the setting between commands.
function outFile(args) {
  return (args && args.outFile) || process.env.TOKENRELAY_PROBE_OUT
    || vscode.workspace.getConfiguration('tokenrelayProbe').get('outFile') || '';
}

// Write to a temp name then rename, so a polling test never reads half a file.
function writeResult(args, result) {
  const file = outFile(args);
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ ...result, pid: process.pid }));
  fs.renameSync(tmp, file);
}

const failure = (err) => ({ ok: false, account: null, accessToken: null, error: String(err && err.message || err) });

async function getSession() {
  try {
    const s = await vscode.authentication.getSession(PROVIDER, SCOPES, { createIfNone: false });
    if (!s) return { ok: false, account: null, accessToken: null, error: 'no session' };
    return { ok: true, account: { id: s.account.id, label: s.account.label }, accessToken: s.accessToken, error: null };
  } catch (err) {
    return failure(err);
  }
}

// getSession with a request read from the JSON file named by tokenrelayProbe.requestFile:
//   { "scopes": [...], "options": {...} }                                   the scope-list form, or
//   { "wwwAuthenticate": "<a 401's header>", "fallbackScopes": [...], "options": {...} }   the 1.105+ challenge form.
async function getSessionFromRequestFile() {
  try {
    const file = vscode.workspace.getConfiguration('tokenrelayProbe').get('requestFile');
    if (!file) throw new Error('tokenrelayProbe.requestFile is not set');
    const { scopes, wwwAuthenticate, fallbackScopes, options } = JSON.parse(fs.readFileSync(file, 'utf8'));
    const request = scopes ?? { wwwAuthenticate, fallbackScopes };
    const s = await vscode.authentication.getSession(PROVIDER, request, options || {});
    if (!s) return { ok: false, account: null, accessToken: null, scopes: null, error: 'no session' };
    return { ok: true, account: { id: s.account.id, label: s.account.label }, accessToken: s.accessToken, scopes: [...s.scopes], error: null };
  } catch (err) {
    return { ...failure(err), scopes: null };
  }
}

async function getApiToken() {
  try {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    if (!ext) throw new Error(`extension ${EXTENSION_ID} not installed`);
    const api = ext.isActive ? ext.exports : await ext.activate();
    const accessToken = await api.getAccessToken({});
    return { ok: true, account: null, accessToken: accessToken ?? null, error: null };
  } catch (err) {
    return failure(err);
  }
}

// Sets a user setting as the Settings editor does: { "key": "tokenrelay.mcp.servers", "value": [...] }
// from the JSON file named by tokenrelayProbe.requestFile.
async function updateUserSettingFromRequestFile() {
  try {
    const file = vscode.workspace.getConfiguration('tokenrelayProbe').get('requestFile');
    if (!file) throw new Error('tokenrelayProbe.requestFile is not set');
    const { key, value } = JSON.parse(fs.readFileSync(file, 'utf8'));
    await vscode.workspace.getConfiguration().update(key, value, vscode.ConfigurationTarget.Global);
    return { ok: true, account: null, accessToken: null, error: null };
  } catch (err) {
    return failure(err);
  }
}

function activate(context) {
  const register = (id, fn) => context.subscriptions.push(
    vscode.commands.registerCommand(id, async (args) => {
      const result = await fn();
      writeResult(args, result);
      return result;
    }));
  register('tokenrelayProbe.getSession', getSession);
  register('tokenrelayProbe.requestSession', getSession);
  register('tokenrelayProbe.getApiToken', getApiToken);
  register('tokenrelayProbe.getSessionFromRequestFile', getSessionFromRequestFile);
  register('tokenrelayProbe.updateUserSetting', updateUserSettingFromRequestFile);
  // A createIfNone:false request is what makes the Accounts menu list "Sign in with Token Relay".
  if (vscode.workspace.getConfiguration('tokenrelayProbe').get('requestAtStartup', true)) {
    void getSession();
  }
}

module.exports = { activate, deactivate() {} };

#!/usr/bin/env node
/**
 * Take the README screenshots in headless Chromium against a running `make run`.
 *
 * Drives the web client as a cashier would. It opens a quotation of Wanjiku
 * Kamau, opens Pay via M-Pesa, sends the request and pays it on the
 * sandbox's phone page. Then it pays the PayBill with an unknown account
 * number and opens that payment in the review queue. Writes three PNG files
 * to docs/images/. Each run adds one paid order and one payment to review to
 * the demo database.
 *
 *     cd tools/screenshots && npm ci && node take_screenshots.js
 *
 * Environment: ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD, SANDBOX_URL,
 * CHROMIUM (executable path), OUTPUT_DIR. Every URL must be on loopback.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const ODOO_URL = (process.env.ODOO_URL || 'http://localhost:8069').replace(/\/+$/, '');
const ODOO_DB = process.env.ODOO_DB || 'mpesa_paybill_demo';
const ODOO_LOGIN = process.env.ODOO_LOGIN || 'admin';
const ODOO_PASSWORD = process.env.ODOO_PASSWORD || 'admin';
const SANDBOX_URL = (process.env.SANDBOX_URL || 'http://127.0.0.1:8765').replace(/\/+$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUTPUT_DIR = process.env.OUTPUT_DIR || path.resolve(__dirname, '..', '..', 'docs', 'images');

const FAILURE_SCREENSHOT = path.join(os.tmpdir(), 'mpesa-screenshots-failure.png');
const VIEWPORT = { width: 1280, height: 800 };
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

// The demo customer whose quotation is paid by STK Push. The PayBill payment
// to review comes from Achieng Odhiambo's number and for the amount of her
// open invoice, so that the invoice shows up as a suggestion although the
// account number is unknown.
const QUOTATION_CUSTOMER = 'Wanjiku Kamau';
const QUOTATION_PHONE = '0712 345 678';
const PAYBILL = '600000';
const UNKNOWN_ACCOUNT = 'JUMBO 55';
const UNKNOWN_ACCOUNT_AMOUNT = '2450';
const UNKNOWN_ACCOUNT_PHONE = '0110123456';

// No GPU, no QUIC, and none of the background services that would call
// Google's hosts.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Any name other than localhost resolves to nothing, as a second guard
  // beside the request filter below.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

function assertLoopback(url) {
  const host = new URL(url).hostname;
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new Error(`${url} is not on loopback; set ODOO_URL and SANDBOX_URL to 127.0.0.1 or localhost`);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Call `probe` every half second until it returns a truthy value; return that value. */
async function waitFor(description, probe, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${description}`);
    }
    await sleep(500);
  }
}

/** Odoo's JSON-RPC routes, on one session cookie, for the setup the browser does not show. */
class OdooRpc {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
    this.cookie = '';
    this.nextId = 1;
  }

  async call(route, params) {
    const response = await fetch(this.baseUrl + route, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: this.cookie },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', params, id: this.nextId++ }),
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) {
      this.cookie = setCookie.split(';')[0];
    }
    if (response.status !== 200) {
      throw new Error(`${route} returned HTTP ${response.status}`);
    }
    const answer = await response.json();
    if (answer.error) {
      const data = answer.error.data || {};
      throw new Error(`${route} failed: ${data.message || answer.error.message}`);
    }
    return answer.result;
  }

  async authenticate(db, login, password) {
    const info = await this.call('/web/session/authenticate', { db, login, password });
    if (!info || !info.uid) {
      throw new Error(`login ${login} was rejected by database ${db}; check ODOO_LOGIN and ODOO_PASSWORD`);
    }
  }

  callKw(model, method, args, kwargs = {}) {
    return this.call(`/web/dataset/call_kw/${model}/${method}`, { model, method, args, kwargs });
  }

  ref(xmlid) {
    return this.callKw('ir.model.data', 'xmlid_to_res_id', [xmlid], { raise_if_not_found: true });
  }

  searchRead(model, domain, fields, extra = {}) {
    return this.callKw(model, 'search_read', [], Object.assign({ domain, fields }, extra));
  }
}

/** Return the id of a draft quotation of the demo customer with no M-Pesa request yet, copying the demo one if none is left. */
async function prepareQuotation(rpc) {
  const quotations = await rpc.searchRead('sale.order', [
    ['partner_id.name', '=', QUOTATION_CUSTOMER],
    ['state', '=', 'draft'],
    ['mpesa_transaction_ids', '=', false],
  ], ['name'], { order: 'id', limit: 1 });
  if (quotations.length) {
    return quotations[0].id;
  }
  const demoId = await rpc.ref('mpesa_paybill.sale_order_wanjiku_demo');
  return rpc.callKw('sale.order', 'copy', [demoId]);
}

/**
 * Cancel the prompts still open on a phone, as its owner would.
 *
 * Daraja rejects a new STK Push while the phone shows a prompt, so a prompt
 * left open by an interrupted run would make this run fail.
 */
async function cancelOpenPrompts(phone) {
  const msisdn = phone.replace(/\D/g, '');
  const response = await fetch(`${SANDBOX_URL}/sandbox/prompts?msisdn=${msisdn}`);
  if (response.status !== 200) {
    throw new Error(`GET ${SANDBOX_URL}/sandbox/prompts returned HTTP ${response.status}; is make run up?`);
  }
  const { prompts } = await response.json();
  for (const prompt of prompts) {
    const checkoutId = prompt.CheckoutRequestID;
    console.log(`screenshots: cancelling the prompt for ${prompt.AccountReference} left open on ${phone}`);
    const answer = await fetch(`${SANDBOX_URL}/sandbox/prompts/${encodeURIComponent(checkoutId)}/answer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ action: 'cancel' }),
    });
    if (answer.status !== 200) {
      throw new Error(`cancelling an open prompt on ${phone} returned HTTP ${answer.status}`);
    }
  }
}

/** Press a button of a form on the sandbox's phone page and check the message shown after the redirect. */
async function submitOnPhone(phonePage, button, expectedStart) {
  await Promise.all([phonePage.waitForURL(/[?&]message=/), button.click()]);
  const message = (await phonePage.locator('p.message').first().innerText()).trim();
  if (!message.startsWith(expectedStart)) {
    throw new Error(`the phone page returned "${message}"; expected a message starting with "${expectedStart}"`);
  }
}

/** Wait until the web client has rendered a view and stopped loading. */
async function waitForOdoo(page, selector) {
  await page.waitForSelector(selector, { state: 'visible' });
  await page.waitForFunction(() => {
    const loading = document.querySelector('.o_loading');
    const blocked = document.querySelector('.blockUI');
    return !(loading && loading.offsetParent !== null) && !blocked;
  });
  // Let fonts and the last repaint settle before the picture is taken.
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(500);
}

/** Raise the text of a warning or error dialog that the web client shows, if there is one. */
async function throwOnOdooError(page) {
  const dialog = page.locator('.modal .o_dialog_warning, .modal .o_dialog_error').first();
  if (await dialog.isVisible()) {
    throw new Error(`Odoo showed an error: ${(await dialog.innerText()).trim().split('\n')[0]}`);
  }
}

async function login(page) {
  await page.goto(`${ODOO_URL}/web/login?db=${encodeURIComponent(ODOO_DB)}`);
  await page.fill('input[name="login"]', ODOO_LOGIN);
  await page.fill('input[name="password"]', ODOO_PASSWORD);
  await Promise.all([page.waitForURL(/\/web(#|$|\?)/), page.click('button[type="submit"]')]);
  await waitForOdoo(page, '.o_main .o_control_panel');
}

/**
 * Load the web client afresh at a URL fragment such as "action=12&menu_id=3".
 *
 * A new fragment alone would keep the menus the client loaded at login, with
 * a stale count in "To Review (N)", so the page is left first.
 */
async function openWebClient(page, fragment, selector) {
  await page.goto('about:blank');
  await page.goto(`${ODOO_URL}/web#${fragment}`);
  await waitForOdoo(page, selector);
}

function openForm(page, model, id, actionId, menuId) {
  return openWebClient(page, `id=${id}&model=${model}&view_type=form&action=${actionId}&menu_id=${menuId}`,
    '.o_form_view .o_form_sheet');
}

async function shoot(page, name, clip) {
  const file = path.join(OUTPUT_DIR, name);
  await page.screenshot({ path: file, clip });
  console.log(`screenshots: wrote ${path.relative(process.cwd(), file)}`);
}

/** Open Pay via M-Pesa on the quotation and take the wizard with phone and amount filled in. */
async function shootWizard(page, orderId, ids) {
  await openForm(page, 'sale.order', orderId, ids.quotationsAction, ids.salesMenu);
  await page.click('.o_form_statusbar button:has-text("Pay via M-Pesa")');
  const modal = page.locator('.modal:has(.o_form_view)');
  await modal.waitFor({ state: 'visible' });
  await waitForOdoo(page, '.modal .modal-footer button:has-text("Send payment request")');

  // The wizard proposes the customer's mobile and the amount due. A customer
  // without a mobile gets the demo number, but a missing amount means the
  // wizard is broken, so the run stops.
  const phone = modal.locator('input[name="phone"]');
  if (!(await phone.inputValue())) {
    await phone.fill(QUOTATION_PHONE);
  }
  const amount = await modal.locator('input[name="amount"]').inputValue();
  if (!amount || Number(amount.replace(/,/g, '')) <= 0) {
    throw new Error(`the wizard proposed the amount ${JSON.stringify(amount)}; expected the amount due`);
  }
  await page.locator('.modal-title').first().click();
  await page.waitForTimeout(300);
  await shoot(page, 'pay-via-mpesa-wizard.png');
}

/** Send the request, pay it on the phone page and take the confirmed order's M-Pesa tab. */
async function shootPaidOrder(page, phonePage, rpc, orderId, ids) {
  const modal = page.locator('.modal:has(.o_form_view)');
  await modal.locator('button:has-text("Send payment request")').click();
  await waitFor('the wizard to show Safaricom\'s answer', async () => {
    await throwOnOdooError(page);
    const sent = await modal.locator('.alert-info').isVisible();
    const failed = await modal.locator('.alert-danger').isVisible();
    if (failed) {
      throw new Error(`the STK Push failed: ${(await modal.locator('.alert-danger').innerText()).trim()}`);
    }
    return sent;
  });

  const [transaction] = await rpc.searchRead('mpesa.transaction', [
    ['sale_order_id', '=', orderId], ['state', '=', 'pending'],
  ], ['checkout_request_id'], { order: 'id desc', limit: 1 });
  if (!transaction || !transaction.checkout_request_id) {
    throw new Error(`no pending STK Push with a CheckoutRequestID for sale.order ${orderId}`);
  }

  // The customer presses Pay on the prompt that this request opened.
  const checkoutId = transaction.checkout_request_id;
  await phonePage.goto(`${SANDBOX_URL}/sandbox/phone`);
  const answerForm = phonePage.locator(`form[action="/sandbox/prompts/${encodeURIComponent(checkoutId)}/answer"]`);
  await submitOnPhone(phonePage, answerForm.locator('button.pay'), 'Paid.');

  await modal.locator('button:has-text("Close")').click();
  await modal.waitFor({ state: 'detached' });
  await waitFor('the order to be confirmed and paid', async () => {
    const [order] = await rpc.searchRead('sale.order', [['id', '=', orderId]], ['state', 'mpesa_state']);
    return order.state === 'sale' && order.mpesa_state === 'paid';
  });

  await openForm(page, 'sale.order', orderId, ids.ordersAction, ids.salesMenu);
  await page.click('.o_notebook a[data-toggle="tab"]:has-text("M-Pesa")');
  const tab = page.locator('.o_notebook .tab-pane.active');
  await tab.locator('.o_field_widget[name="mpesa_receipts"]').waitFor({ state: 'visible' });
  await tab.scrollIntoViewIfNeeded();
  // Clicking the tab leaves a focus frame around it.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.waitForTimeout(300);
  await shoot(page, 'paid-order.png');
}

/** Pay the PayBill with an unknown account number and take that payment in the review queue. */
async function shootReviewQueue(page, phonePage, rpc, ids) {
  const [latest] = await rpc.searchRead('mpesa.transaction', [], ['id'], { order: 'id desc', limit: 1 });
  const lastIdBefore = latest ? latest.id : 0;

  await phonePage.goto(`${SANDBOX_URL}/sandbox/phone`);
  const form = phonePage.locator('form.sim');
  await form.locator('input[name="ShortCode"]').fill(PAYBILL);
  await form.locator('input[name="BillRefNumber"]').fill(UNKNOWN_ACCOUNT);
  await form.locator('input[name="Amount"]').fill(UNKNOWN_ACCOUNT_AMOUNT);
  await form.locator('input[name="MSISDN"]').fill(UNKNOWN_ACCOUNT_PHONE);
  await submitOnPhone(phonePage, form.locator('button[type="submit"]'), `Paid KES ${UNKNOWN_ACCOUNT_AMOUNT}`);

  const transaction = await waitFor('the PayBill payment to wait for review', async () => {
    const found = await rpc.searchRead('mpesa.transaction', [
      ['id', '>', lastIdBefore], ['account_reference', '=', UNKNOWN_ACCOUNT],
    ], ['state'], { order: 'id desc', limit: 1 });
    if (found.length && !['draft', 'received'].includes(found[0].state)) {
      if (found[0].state !== 'review') {
        throw new Error(`the payment with account ${UNKNOWN_ACCOUNT} went to state ${found[0].state}, not review`);
      }
      return found[0];
    }
    return null;
  });

  // Through the menu's list first, so the breadcrumb reads as the menu does.
  await openWebClient(page, `action=${ids.reviewAction}&menu_id=${ids.invoicingMenu}`,
    '.o_list_view tbody tr.o_data_row');
  await page.locator('.o_list_view tbody tr.o_data_row').first().click();
  await waitForOdoo(page, '.o_form_view .o_form_sheet');
  const title = await page.locator('.o_form_view .oe_title').innerText();
  const reference = await page.locator('.o_form_view .o_field_widget[name="account_reference"]').innerText();
  if (reference.trim() !== UNKNOWN_ACCOUNT) {
    throw new Error(`the first payment to review is ${title.trim()} with account ${reference.trim()}, `
      + `not transaction ${transaction.id} with ${UNKNOWN_ACCOUNT}`);
  }

  // The reason sits at the top of the form and the suggestions at the
  // bottom, so this picture is taken in a taller window, down to the end of
  // the notebook.
  const suggestions = page.locator('.o_notebook .tab-pane.active .o_data_row');
  if (!(await suggestions.count())) {
    console.warn(`screenshots: payment ${title.trim()} has no suggestion; is the invoice of the payer still open?`);
  }
  await page.setViewportSize({ width: VIEWPORT.width, height: 1400 });
  await page.waitForTimeout(500);
  const notebook = await page.locator('.o_form_view .o_notebook').boundingBox();
  await shoot(page, 'review-queue.png', {
    x: 0, y: 0, width: VIEWPORT.width, height: Math.ceil(notebook.y + notebook.height + 24),
  });
  await page.setViewportSize(VIEWPORT);
}

async function main() {
  assertLoopback(ODOO_URL);
  assertLoopback(SANDBOX_URL);
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });

  const rpc = new OdooRpc(ODOO_URL);
  await rpc.authenticate(ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD);
  const ids = {
    salesMenu: await rpc.ref('sale.sale_menu_root'),
    quotationsAction: await rpc.ref('sale.action_quotations'),
    ordersAction: await rpc.ref('sale.action_orders'),
    invoicingMenu: await rpc.ref('account.menu_finance'),
    reviewAction: await rpc.ref('mpesa_paybill.action_mpesa_review_queue'),
  };
  await cancelOpenPrompts(QUOTATION_PHONE);
  const orderId = await prepareQuotation(rpc);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mpesa-screenshots-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
    locale: 'en-US',
    timezoneId: 'Africa/Nairobi',
  });
  try {
    // Nothing leaves this machine: every request to a host that is not
    // loopback is aborted and reported.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (/^(data|blob):/.test(url) || LOOPBACK_HOSTS.has(new URL(url).hostname)) {
        return route.continue();
      }
      console.warn(`screenshots: blocked a request to ${url}`);
      return route.abort();
    });

    // Hide the guided tour's tips, which Odoo shows to a user who never
    // dismissed them and which would cover the buttons in the pictures.
    await context.addInitScript(() => {
      document.addEventListener('DOMContentLoaded', () => {
        const style = document.createElement('style');
        style.textContent = '.o_tooltip { display: none !important; }';
        document.head.appendChild(style);
      });
    });

    const page = context.pages()[0] || await context.newPage();
    const phonePage = await context.newPage();
    await login(page);
    try {
      await shootWizard(page, orderId, ids);
      await shootPaidOrder(page, phonePage, rpc, orderId, ids);
      await shootReviewQueue(page, phonePage, rpc, ids);
    } catch (error) {
      // Keep what the browser showed when a step failed, to see why.
      await page.screenshot({ path: FAILURE_SCREENSHOT }).catch(() => {});
      console.error(`screenshots: the page at the failure is in ${FAILURE_SCREENSHOT}`);
      throw error;
    }
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`screenshots: ${error.message}`);
  process.exit(1);
});

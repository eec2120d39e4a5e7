/* Payhub "Pay" button for static pages.
 * <script src="https://hub.example/payhub.js" data-merchant="mer_…" data-order="A-1" data-amount="19900"
 *         data-currency="RUB" data-description="…" data-return-url="https://shop.example/thanks"
 *         data-signature="<hex HMAC-SHA256>"></script>
 * Inserts, in place of the tag, a form that posts these values to <hub>/pay. Optional: data-label, data-lang. */
(function () {
  'use strict';
  var s = document.currentScript;
  if (!s) return;
  var base = s.src.replace(/\/payhub\.js(?:[?#].*)?$/, '');
  var d = s.dataset;
  var lang = d.lang || (document.documentElement.lang || navigator.language || 'en').slice(0, 2).toLowerCase();
  var labels = { ru: 'Оплатить', en: 'Pay', de: 'Bezahlen' };
  var form = document.createElement('form');
  form.method = 'post';
  form.action = base + '/pay';
  form.className = 'payhub-form';
  var fields = {
    merchant_id: d.merchant, order_number: d.order, amount: d.amount, currency: d.currency,
    description: d.description, return_url: d.returnUrl, signature: d.signature, lang: labels[lang] ? lang : 'en'
  };
  Object.keys(fields).forEach(function (k) {
    var v = fields[k];
    if (v === undefined || v === null) v = '';
    var i = document.createElement('input');
    i.type = 'hidden';
    i.name = k;
    i.value = v;
    form.appendChild(i);
  });
  var b = document.createElement('button');
  b.type = 'submit';
  b.className = 'payhub-button';
  b.textContent = d.label || labels[lang] || labels.en;
  b.style.minHeight = '44px';
  b.style.minWidth = '44px';
  b.style.padding = '10px 20px';
  b.style.fontSize = '16px';
  b.style.cursor = 'pointer';
  form.appendChild(b);
  s.parentNode.insertBefore(form, s.nextSibling);
})();

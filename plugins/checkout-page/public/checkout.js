/* Payhub checkout page enhancements. The page works without this file; it adds live card checks, the brand icon,
 * input formatting, the pending state, status refresh and the auto-submit of provider forms. No inline script. */
(function () {
  'use strict';

  function digits(v) { return String(v || '').replace(/\D/g, ''); }

  function luhn(d) {
    var sum = 0, dbl = false;
    for (var i = d.length - 1; i >= 0; i--) {
      var n = d.charCodeAt(i) - 48;
      if (dbl) { n *= 2; if (n > 9) n -= 9; }
      sum += n; dbl = !dbl;
    }
    return d.length > 0 && sum % 10 === 0;
  }

  function brandOf(d) {
    if (/^4/.test(d)) return { brand: 'visa', lengths: [13, 16, 19], cvc: 3 };
    if (/^220[0-4]/.test(d)) return { brand: 'mir', lengths: [16, 17, 18, 19], cvc: 3 };
    var two = Number(d.slice(0, 2)), four = Number(d.slice(0, 4));
    if ((two >= 51 && two <= 55) || (d.length >= 4 && four >= 2221 && four <= 2720)) return { brand: 'mastercard', lengths: [16], cvc: 3 };
    if (/^(5018|5020|5038|5893|6304|6759|676[1-3])/.test(d)) return { brand: 'maestro', lengths: [12, 13, 14, 15, 16, 17, 18, 19], cvc: 3 };
    if (/^35(2[89]|[3-8])/.test(d)) return { brand: 'jcb', lengths: [16, 17, 18, 19], cvc: 3 };
    if (/^62/.test(d)) return { brand: 'unionpay', lengths: [14, 15, 16, 17, 18, 19], cvc: 3 };
    return null;
  }

  function setError(input, msg) {
    var err = document.getElementById(input.id + '-error');
    var field = input.closest('.field');
    if (msg) {
      input.setAttribute('aria-invalid', 'true');
      if (field) field.classList.add('invalid');
      if (err) err.textContent = msg;
    } else {
      input.removeAttribute('aria-invalid');
      if (field) field.classList.remove('invalid');
      if (err) err.textContent = '';
    }
  }

  function parseExp(v) {
    var m = /^\s*(\d{1,2})\s*[\/\-.]?\s*(\d{2}|\d{4})\s*$/.exec(v);
    if (!m) return null;
    var month = Number(m[1]), year = Number(m[2].length === 2 ? '20' + m[2] : m[2]);
    if (month < 1 || month > 12) return null;
    var now = new Date();
    var y = now.getUTCFullYear(), mo = now.getUTCMonth() + 1;
    if (year < y || (year === y && month < mo) || year > y + 20) return null;
    return { month: month, year: year };
  }

  function initCardForm(form) {
    var number = form.querySelector('#card_number');
    var exp = form.querySelector('#card_exp');
    var cvc = form.querySelector('#card_cvc');
    var holder = form.querySelector('#card_holder');
    var icon = form.querySelector('#brand-icon');
    var announce = document.getElementById('announce');
    var msg = form.dataset;
    form.noValidate = true;

    function checkNumber(final) {
      var d = digits(number.value);
      var b = brandOf(d);
      if (icon) {
        icon.src = icon.dataset.base + (b ? b.brand : 'card') + '.svg';
        icon.alt = b ? b.brand.toUpperCase() : '';
      }
      if (!d) { if (final) setError(number, msg.msgNumber); else setError(number, ''); return false; }
      var complete = b ? (d.length >= 16 && b.lengths.indexOf(d.length) >= 0) || d.length >= Math.max.apply(null, b.lengths) : d.length >= 16;
      if (complete || final) {
        var ok = !!b && b.lengths.indexOf(d.length) >= 0 && luhn(d);
        setError(number, ok ? '' : msg.msgNumber);
        return ok;
      }
      setError(number, '');
      return false;
    }

    number.addEventListener('input', function () {
      var d = digits(number.value).slice(0, 19);
      var formatted = d.replace(/(\d{4})(?=\d)/g, '$1 ');
      if (formatted !== number.value) number.value = formatted;
      checkNumber(false);
    });
    number.addEventListener('blur', function () { if (number.value) checkNumber(true); });

    exp.addEventListener('input', function (e) {
      var d = digits(exp.value).slice(0, 4);
      if (e.inputType && e.inputType.indexOf('delete') === 0) return;
      var v = d.length > 2 ? d.slice(0, 2) + '/' + d.slice(2) : d.length === 2 ? d + '/' : d;
      if (d.length === 1 && Number(d) > 1) v = '0' + d + '/';
      exp.value = v;
      if (d.length === 4) setError(exp, parseExp(v) ? '' : msg.msgExp);
    });
    cvc.addEventListener('input', function () { cvc.value = digits(cvc.value).slice(0, 4); });

    form.addEventListener('submit', function (e) {
      var bad = [];
      if (!checkNumber(true)) bad.push(number);
      if (!parseExp(exp.value)) { setError(exp, msg.msgExp); bad.push(exp); } else setError(exp, '');
      if (!/^\d{3,4}$/.test(cvc.value)) { setError(cvc, msg.msgCvc); bad.push(cvc); } else setError(cvc, '');
      if (!holder.value.trim()) { setError(holder, msg.msgHolder); bad.push(holder); } else setError(holder, '');
      if (bad.length) {
        e.preventDefault();
        if (announce) announce.textContent = msg.msgErrors;
        bad[0].focus();
        return;
      }
      if (announce) announce.textContent = '';
      pending(form);
    });
  }

  function pending(form) {
    if (form.dataset.submitted === '1') return;
    form.dataset.submitted = '1';
    var payBtn = document.getElementById('pay-btn');
    var text = payBtn ? payBtn.getAttribute('data-pending-text') : '';
    form.setAttribute('aria-busy', 'true');
    // Disable after the submission has been taken (a disabled submitter would drop its name/value).
    setTimeout(function () {
      var all = document.querySelectorAll('.pay-btn, .method-btn');
      for (var i = 0; i < all.length; i++) all[i].setAttribute('disabled', '');
    }, 0);
    var p = document.getElementById('pending');
    if (p && text) p.textContent = text;
  }

  document.addEventListener('DOMContentLoaded', function () {
    var card = document.getElementById('card-form');
    if (card && card.getAttribute('action')) initCardForm(card);
    var methodForms = document.querySelectorAll('form.method-form');
    for (var i = 0; i < methodForms.length; i++) {
      methodForms[i].addEventListener('submit', function (e) { pending(e.currentTarget); });
    }
    var auto = document.querySelector('form[data-autosubmit]');
    if (auto) auto.submit();
    var refresh = document.querySelector('[data-autorefresh]');
    if (refresh) {
      setTimeout(function () { window.location.replace(refresh.getAttribute('href')); }, Number(refresh.getAttribute('data-autorefresh')) || 3000);
    }
  });
})();

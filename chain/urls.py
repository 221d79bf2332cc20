from django.contrib.auth import views as auth_views
from django.urls import path

from chain.views import accounts, activity, explorer, keys, pages, wallet

urlpatterns = [
    path("", pages.home, name="home"),
    path("status/", pages.node_status, name="node-status"),
    # installable web app
    path("manifest.webmanifest", pages.app_manifest, name="app-manifest"),
    path("sw.js", pages.service_worker, name="service-worker"),
    path("offline/", pages.app_offline, name="app-offline"),
    # accounts
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/signup/self-custody/", keys.signup_self_custody, name="signup-self-custody"),
    path("accounts/login/", accounts.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # wallets
    path("wallet/", wallet.wallet, name="wallet"),
    path("wallet/key/", keys.wallet_key, name="wallet-key"),
    path("wallet/key/export/", keys.wallet_key_export, name="wallet-key-export"),
    path("wallet/key/import/", keys.wallet_key_import, name="wallet-key-import"),
    path("wallet/<str:kind>/submit/", wallet.wallet_submit, name="wallet-submit"),
    path("wallet/<str:kind>/check/", wallet.wallet_check, name="wallet-check"),
    path("wallets/", wallet.wallet_list, name="wallet-list"),
    path("wallets/<str:username>/", wallet.wallet_of_user, name="wallet-of-user"),
    path("activity/", activity.activity, name="activity"),
    # explorer
    path("explorer/", explorer.explorer, name="explorer"),
    path("explorer/search/", explorer.search, name="explorer-search"),
    path("explorer/block/<int:height>/", explorer.block_detail, name="explorer-block"),
    path("explorer/tx/<str:tx_hash>/", explorer.transaction_detail, name="explorer-tx"),
    path("explorer/account/<str:address>/", explorer.account_detail, name="explorer-account"),
]

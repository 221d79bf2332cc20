from django.urls import path

from chain.api import views

urlpatterns = [
    path("status/", views.StatusView.as_view(), name="api-status"),
    path("transactions/", views.TransactionSubmitView.as_view(), name="api-tx-submit"),
]
